"""Site builders: the math and non-math sites of the demo crawl, their near-duplicates and
legacy-charset pages, and the benchmark problems some pages quote (texts in sample/data/)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sample.chrome import Draft, Page, Site, _draft, _finish, _teasers
from sample.pages import (
    _NEWS_TOPICS,
    _PRODUCTS,
    _RECIPES,
    _news_article,
    _recipe,
    _review,
    _sports_report,
    _travel_post,
)
from sample.problems import _DEFINITIONS, _THEOREMS, _gen_by_topic, _math_doc, _p
from sample.tex import MathRenderer, _doc_blocks, _render_blocks
from sample.text import (
    _LAST,
    _MONTHS,
    _TOWNS,
    Block,
    Rng,
    _date,
    _esc,
    _nice_date,
    _person,
    _slug,
    _thousands,
    data_json,
    data_text,
    rows,
)
from sample.variation import _perturb, _perturb_html, _vary_blocks, _vdraft

BENCHMARK: list[tuple[str, str, str]] = [(b["id"], b["question"], b["answer"])
                                         for b in data_json("benchmark.json")]  # type: ignore[union-attr]

_BENCH = {b[0]: b[1] for b in BENCHMARK}

_FORUM = data_json("forum.json")
_COMMENTS: list[str] = _FORUM["comments"]
_BIOS: list[str] = _FORUM["bios"]
_HANDLES: list[str] = _FORUM["handles"]
_FORUM_TAGS: list[tuple[str, str]] = rows(_FORUM["tags"])
_QUOTE_LEADS: dict[str, tuple[str, str, str]] = {k: tuple(v) for k, v in _FORUM["quote_leads"].items()}
_PAGES = data_json("site_pages.json")  # the sites' static pages: help, about, pricing ...


def _post_html(kind: str, pid: int, body: str, votes: int, user: tuple[int, str, int],
               when: datetime, tags: list[str], comments: list[str],
               accepted: bool = False) -> str:
    uid, uname, rep = user
    tag_html = ""
    if tags:
        tag_html = ('<div class="post-taglist"><ul class="js-post-tag-list-wrapper">' + "".join(
            f'<li><a href="/questions/tagged/{t}" class="post-tag" rel="tag">{t}</a></li>'
            for t in tags) + "</ul></div>")
    com = "".join(f'<li class="comment"><div class="comment-body"><span class="comment-copy">'
                  f"{_esc(c)}</span> &ndash; <a class=\"comment-user\" href=\"/users/"
                  f"{uid + 7}/x\">{_esc(_HANDLES[(uid + i) % len(_HANDLES)])}</a></div></li>"
                  for i, c in enumerate(comments))
    cls = "answer accepted-answer" if accepted else kind
    return (
        f'<div class="{cls}" id="{kind}-{pid}" data-{kind}id="{pid}">'
        f'<div class="votecell"><button class="js-vote-up-btn" aria-label="Up vote">&#9650;'
        f'</button><div class="js-vote-count" itemprop="upvoteCount" data-value="{votes}">'
        f'{votes}</div><button class="js-vote-down-btn" aria-label="Down vote">&#9660;</button>'
        + ('<div class="js-accepted-answer-indicator" title="accepted">&#10004;</div>'
           if accepted else "")
        + f'</div><div class="postcell"><div class="s-prose js-post-body" itemprop="text">\n'
        f"{body}\n</div>{tag_html}"
        f'<div class="post-signature"><div class="user-info"><div class="user-action-time">'
        f'{"asked" if kind == "question" else "answered"} <span title="{when.isoformat()}Z">'
        f"{_nice_date(when)} at {when:%H:%M}</span></div><div class=\"user-details\"><a href=\""
        f'/users/{uid}/{_slug(uname)}">{_esc(uname)}</a><div class="-flair"><span class='
        f'"reputation-score">{_thousands(rep)}</span></div></div></div></div></div>'
        f'<div class="comments js-comments-container"><ul class="comments-list">{com}</ul>'
        '<a class="js-add-link comments-link" href="#">Add a comment</a></div></div>\n'
    )


def _build_forum(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("mathforum.example.org", "Mathematics Forum", "Questions and answers for people "
                "studying math at any level", [("Questions", "/questions"), ("Tags", "/tags"),
                ("Users", "/users"), ("About", "/about")], "nginx/1.18.0", "forum", "#0a74c9")
    users = []
    used_ids: set[int] = set()
    for h in _HANDLES:
        uid = rng.randint(1000, 999999)
        while uid in used_ids:
            uid += 1
        used_ids.add(uid)
        users.append((uid, h, rng.randint(11, 98000)))
    drafts: list[Draft] = []
    questions: list[tuple[str, str, tuple]] = []
    quote_at = {5: "bench-001", 17: "bench-010"}
    qids: set[int] = set()
    for i in range(40):
        doc = _math_doc(rng, i)
        qid = rng.randint(1_000_000, 4_900_000)
        while qid in qids:
            qid += 1
        qids.add(qid)
        bench = quote_at.get(i)
        r = MathRenderer("math_container", rng.choice(["span", "span", "div"]))
        asker = rng.choice(users)
        asked = _date(rng, 2014, 2023)
        if bench:
            lead, tail, solution = _QUOTE_LEADS[bench]
            qkind = "rawquote" if "$" not in _BENCH[bench] else "quote"
            qblocks = [("p", lead), (qkind, _BENCH[bench]), ("p", tail)]
            ablocks: list[list[Block]] = [_p(solution)]
            title = ("Which solution of this log equation is valid?" if bench == "bench-010"
                     else "Who is right about this word problem?")
            tags = ["algebra-precalculus"] + (["logarithms"] if bench == "bench-010" else [])
        else:
            qblocks = list(doc.question)
            if rng.random() < 0.5:
                qblocks.append(("p", rng.choice([
                    "Any hints would be appreciated. This is not graded, I am studying on my own.",
                    "I am self-studying from an old textbook that has no solutions.",
                    "Sorry if this is a basic question, it has been years since I took a math "
                    "class.", "Edit: fixed a typo in the statement."])))
            ablocks = [list(doc.answer)]
            if rng.random() < 0.55:
                extra = doc.remark or doc.intro
                lead = rng.choice(["Some background that may help:", "To add to the other answer:",
                                   "A slightly different way to see it."])
                ablocks.append([("p", lead), *extra])
            title = doc.ask
            tags = doc.tags
        qblocks = _vary_blocks(qblocks, rng)
        ablocks = [_vary_blocks(ab, rng) for ab in ablocks]
        path = f"/questions/{qid}/{_slug(title)}"
        body = (f'<div id="question-header"><h1 itemprop="name" class="fs-headline1">'
                f'<a href="{path}" class="question-hyperlink">{_esc(title)}</a></h1></div>\n'
                f'<div class="question-stats">Asked <time datetime="{asked.isoformat()}">'
                f"{_nice_date(asked)}</time> &middot; Viewed {_thousands(rng.randint(40, 90000))}"
                " times</div>\n")
        qhtml = _render_blocks(qblocks, r)
        body += _post_html("question", qid, qhtml, rng.randint(-1, 60), asker, asked, tags,
                           rng.sample(_COMMENTS, rng.randint(0, 2)))
        body += (f'<div id="answers"><div id="answers-header"><h2 class="mb0">{len(ablocks)} '
                 f'Answer{"s" if len(ablocks) > 1 else ""}</h2><div>Sorted by: <select><option>'
                 "Highest score (default)</option><option>Date modified</option></select></div>"
                 "</div>\n")
        all_blocks = list(qblocks)
        for j, ab in enumerate(ablocks):
            ahtml = _render_blocks(ab, r)
            body += _post_html("answer", qid + 17 + j, ahtml, rng.randint(0, 80),
                               rng.choice(users), asked + timedelta(hours=rng.randint(1, 400)),
                               [], rng.sample(_COMMENTS, rng.randint(0, 1)), accepted=j == 0)
            all_blocks += [("h2", "Answer"), *ab]
        body += ('</div>\n<h2 class="bottom-notice">Not the answer you\'re looking for? Browse '
                 'other questions tagged ' + " ".join(f'<a class="post-tag" href="/questions/'
                                                      f'tagged/{t}">{t}</a>' for t in tags)
                 + ' or <a href="/questions/ask">ask your own question</a>.</h2>\n')
        d = Draft(path, title, body, True, "math_container", r.formulas, blocks=all_blocks,
                  style=r.style, quotes_benchmark=bench, full=True)
        drafts.append(d)
        questions.append((title, path, asker))
    for uid, uname, rep in users:
        mine = [(t, p) for t, p, a in questions if a[0] == uid][:5] or rng.sample(
            [(t, p) for t, p, _ in questions], 2)
        tops = rng.sample(_FORUM_TAGS[:11], 4)
        since = rng.randint(1, 11)
        main = (
            f'<div id="user-card" class="profile"><div class="avatar"><img src="https://'
            f'avatars.example.com/{uid}?s=128" alt="" width="128" height="128"></div>'
            f'<div class="details"><div class="location">{_esc(rng.choice(_TOWNS))}</div>'
            f"<ul class=\"stats\"><li><b>{_thousands(rep)}</b> reputation</li><li><b>"
            f"{rng.randint(0, 900)}</b> answers</li><li><b>{rng.randint(0, 90)}</b> questions"
            f"</li><li>reached {_thousands(rng.randint(1000, 900000))} people</li></ul>"
            f"<p>Member for {since} year{'s' if since > 1 else ''}, {rng.randint(1, 11)} months"
            f"</p><p>Last seen {rng.choice(['this week', 'today', 'more than a month ago'])}"
            "</p></div></div>\n"
            f'<div class="about-me"><h2>About</h2><p>{_esc(rng.choice(_BIOS))}</p></div>\n'
            '<div class="top-tags"><h2>Top tags</h2><ul>' + "".join(
                f'<li><a class="post-tag" href="/questions/tagged/{t}">{t}</a> Score '
                f"{rng.randint(5, 900)} &middot; Posts {rng.randint(3, 300)}</li>"
                for t, _ in tops) + "</ul></div>\n"
            '<div class="top-posts"><h2>Top posts</h2><ul>' + "".join(
                f'<li><a href="{p}">{_esc(t)}</a></li>' for t, p in mine) + "</ul></div>\n"
            f'<div class="badges"><h2>Badges</h2><p>{rng.randint(0, 9)} gold &middot; '
            f"{rng.randint(0, 60)} silver &middot; {rng.randint(1, 140)} bronze</p></div>"
        )
        drafts.append(Draft(f"/users/{uid}/{_slug(uname)}", f"User {uname}", main, False,
                            "none", []))
    for page in (1, 2):
        tags = _FORUM_TAGS[:8] if page == 1 else _FORUM_TAGS[8:]
        main = ("<p>A tag is a keyword or label that categorizes your question with other, "
                "similar questions. Using the right tags makes it easier for others to find "
                "and answer your question.</p><div id=\"tags-browser\">" + "".join(
                    f'<div class="s-card"><a class="post-tag" href="/questions/tagged/{t}">{t}'
                    f'</a><p>{_esc(desc)}</p><div>{_thousands(rng.randint(900, 190000))} '
                    f"questions &middot; {rng.randint(1, 90)} asked today</div></div>"
                    for t, desc in tags) + f'</div><div class="pager">Page {page} of 2 '
                '<a href="/tags?page=2">Next</a></div>')
        drafts.append(Draft("/tags" if page == 1 else "/tags?page=2", "Tags", main, False,
                            "none", []))
    for path, title, paras in _PAGES["forum"]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


_LECTURE_TOPICS = ["integral", "derivative", "limit", "geometric", "taylor", "byparts",
                   "partfrac", "mvt", "epsdelta", "decay", "arith", "amgm", "logeq"]

_MATHJAX2_HEAD = (
    '<script type="text/x-mathjax-config">MathJax.Hub.Config({tex2jax: {inlineMath: '
    "[['$','$'], ['\\\\(','\\\\)']], processEscapes: true}, \"HTML-CSS\": {linebreaks: "
    '{automatic: true}}});</script>\n<script type="text/javascript" async src="https://cdn.'
    'example.net/mathjax/2.7.7/MathJax.js?config=TeX-AMS-MML_HTMLorMML"></script>\n'
)

_MATHJAX3_HEAD = (
    "<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']]}, svg: "
    "{fontCache: 'global'}};</script>\n<script id=\"MathJax-script\" async src=\"https://cdn."
    'example.net/npm/mathjax@3/es5/tex-chtml.js"></script>\n'
)

_KATEX_HEAD = ('<link rel="stylesheet" href="https://cdn.example.net/npm/katex@0.16.9/dist/'
               'katex.min.css" crossorigin="anonymous">\n')


def _build_course(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("calc-notes.example.edu", "MATH 1310: Calculus I", "Course notes, Department "
                "of Mathematics", [("Lectures", "/lectures/"), ("Syllabus", "/syllabus"),
                ("Staff", "/staff"), ("News", "/news/"), ("About", "/about")],
                "Apache/2.4.41 (Ubuntu)", "modern", "#8a1538", cookie=False)
    drafts: list[Draft] = []
    names: list[str] = _PAGES["course_lectures"]
    prof = "Prof. " + rng.choice(_LAST)
    for i, name in enumerate(names):
        topics = rng.sample(_LECTURE_TOPICS, 2)
        docs = [_gen_by_topic(t)(rng) for t in topics]
        blocks: list[Block] = [("p", rng.choice([
            f"These notes accompany lecture {i + 1}. They are not a substitute for the "
            "textbook, but they contain every definition and example from the board.",
            "Reading for this lecture: sections of chapter " + str(2 + i // 3) + " in the "
            "textbook. Please read them before class.",
        ]))]
        blocks += [("h2", docs[0].title), *docs[0].intro]
        for k, d in enumerate(docs):
            if k:
                blocks += [("h2", d.title), *d.intro]
            blocks += [("h3", f"Example {i + 1}.{k + 1}"), *d.question]
            blocks += [("h3", "Solution"), *d.answer]
        ex = _gen_by_topic(rng.choice(_LECTURE_TOPICS))(rng)
        blocks += [("h2", "Exercises"), ("ol", [b[1] for b in ex.question if b[0] == "p"]
                                         + ["Redo the examples above with different numbers "
                                            "and check your answers with a computer algebra "
                                            "system."])]
        slug = f"{i + 1:02d}-{_slug(name)}"
        style = "bare" if i % 4 == 3 else ""
        drafts.append(_vdraft(rng, f"/lectures/{slug}.html", f"Lecture {i + 1}: {name}", blocks,
                             "mathjax_script", style, head_extra=_MATHJAX2_HEAD,
                             meta_line=f"{prof} &middot; Fall 2024"))
    info = {
        "/about": ("About this course", [
            "MATH 1310 is a first course in differential and integral calculus for students in "
            "science and engineering. It meets three times a week in Hall B, with weekly "
            "recitation sections led by graduate teaching assistants.",
            "The course website is maintained by the teaching staff. If you find a broken link "
            "or a typo, please email the course account and we will fix it as soon as possible.",
            "Accessibility: if you need accommodations, contact the disability resources office "
            "in the first two weeks of term so that arrangements can be made in time for the "
            "first quiz.",
        ]),
        "/syllabus": ("Syllabus and policies", [
            "Grading: homework 20 percent, quizzes 15 percent, two midterms 20 percent each, "
            "final exam 25 percent. The lowest quiz score is dropped.",
            "Late homework is accepted up to 48 hours after the deadline with a 10 percent "
            "penalty. Extensions are granted for documented illness or family emergencies.",
            "Academic integrity: you may discuss homework with classmates, but you must write "
            "up your own solutions and list the people you worked with. Copying from online "
            "solution sites is a violation of the honour code.",
            "Office hours are listed on the staff page. The tutoring centre in the library "
            "basement is open Monday to Thursday from 4 to 9 p.m.",
        ]),
        "/staff": ("Course staff", [
            f"Instructor: {prof}. Office: Science Building 412. Office hours: Tuesday 2-4 p.m. "
            "and by appointment.",
            f"Teaching assistants: {_person(rng)}, {_person(rng)} and {_person(rng)}. "
            "Recitation sections meet on Thursdays; check the registrar for rooms.",
            "Please use the course forum for questions about homework so that everyone can "
            "benefit from the answers. Email is for private matters only.",
        ]),
        "/calendar": ("Course calendar", [
            "Week 1: introduction and review. Week 2: first quiz on Friday. Week 6: first "
            "midterm, in class. Week 8: fall break, no classes. Week 11: second midterm.",
            "The final exam is scheduled by the registrar and will be announced in week 10. "
            "Do not book travel before the exam schedule is published.",
        ]),
    }
    for path, (title, paras) in info.items():
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    news: list[list[str]] = _PAGES["course_news"]
    for title, text in news:
        when = _date(rng, 2023, 2024)
        drafts.append(_vdraft(rng, f"/news/{when:%Y-%m-%d}-{_slug(title)}", title,
                             _p(text, "Posted by the course staff. Questions? Use the course "
                                "forum or come to office hours."), "none", is_math=False,
                             meta_line=_nice_date(when)))
    return _finish(site, drafts, rng), drafts, site


def _build_wiki(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("proofwiki.example.org", "ProofWiki", "The online compendium of mathematical "
                "proofs", [("Main page", "/wiki/Main_Page")], "Apache", "wiki", "#3366cc",
                cookie=False)
    drafts: list[Draft] = []
    for name, text in _THEOREMS + _DEFINITIONS:
        is_def = any(name == n for n, _ in _DEFINITIONS)
        blocks = _doc_blocks(text)
        blocks.append(("h2", "Sources"))
        book = rng.choice(["Elements of Analysis", "A First Course in Algebra",
                           "Number Theory for Beginners", "Calculus (3rd ed.)"])
        blocks.append(("ul", [f"{rng.randint(1965, 2015)}: {_person(rng)}: {book} ... (previous) "
                              f"... (next): Chapter {rng.randint(1, 12)}"]))
        path = "/wiki/" + ("Definition:" if is_def else "") + name.replace(" ", "_")
        drafts.append(_vdraft(rng, path, ("Definition:" if is_def else "") + name, blocks, "mathml"))
    for path, title, paras in _PAGES["wiki"]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


_ENTRY_NAMES = {"quadratic": "Quadratic Equation", "integral": "Definite Integral",
                "derivative": "Chain Rule", "limit": "Limit", "geometric": "Geometric Series",
                "linsys": "Cramer's Rule", "eigen": "Eigenvalue", "binomial":
                "Binomial Distribution", "euclid": "Euclidean Algorithm", "taylor":
                "Taylor Series", "cosines": "Law of Cosines", "complex": "Complex Number",
                "logeq": "Logarithm", "combinatorics": "Binomial Coefficient", "vectors":
                "Dot Product", "modpow": "Fermat's Little Theorem"}


def _build_encyclopedia(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("mathref.example.org", "MathRef Encyclopedia", "A free reference for "
                "mathematical concepts", [("Browse", "/entries/"), ("Random", "/random"),
                ("About", "/about"), ("Donate", "/donate")], "cloudflare", "modern", "#2f6f4f")
    drafts: list[Draft] = []
    topics = list(_ENTRY_NAMES)
    rng.shuffle(topics)
    for t in topics[:12]:
        doc = _gen_by_topic(t)(rng)
        name = _ENTRY_NAMES[t]
        blocks = [*doc.intro, ("h2", "Example"), *doc.question, ("h2", "Solution"), *doc.answer,
                  ("h2", "See also"), ("ul", rng.sample(list(_ENTRY_NAMES.values()), 3))]
        drafts.append(_vdraft(rng, f"/entries/{name.replace(' ', '').replace(chr(39), '')}.html",
                             name, blocks, "mathml_alttext",
                             meta_line=f"Contributed by {_person(rng)}"))
    for path, title, paras in _PAGES["encyclopedia"]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


_BLOGS = data_json("blogs.json")
_ALLOTMENT: list[str] = _BLOGS["allotment"]
_BOOKS: list[tuple[str, list[str]]] = rows(_BLOGS["books"])
_BLOG_MATH_LEADS: list[str] = _BLOGS["blog_math_leads"]
_NOTES_LEADS: list[str] = _BLOGS["notes_leads"]


def _build_blog(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("blog.example.co.uk", "Mr Hartley Explains", "Maths, allotments and the "
                "occasional walk, from a teacher in Yorkshire", [("Home", "/"), ("Maths",
                "/category/maths/"), ("Allotment", "/category/allotment/"), ("Books",
                "/category/books/"), ("About", "/about/")], "nginx", "modern", "#c0392b")
    drafts: list[Draft] = []
    for i in range(12):
        when = _date(rng, 2016, 2024)
        if i == 4:  # quotes a benchmark word problem word for word
            blocks: list[Block] = [
                ("p", "A parent emailed me this one from a Year 6 worksheet, saying the answer "
                      "in the back of the book looked wrong. Here it is exactly as printed:"),
                ("rawquote", _BENCH["bench-003"]),
                ("p", r"The key is to find the cost per student first: $18 + 7 = 25$ pounds... "
                      r"sorry, dollars, since the worksheet is American. For $32$ students the "
                      r"trip costs $25 \times 32 = 800$ in total."),
                ("p", r"The school pays $200$ of that, so the families pay $800 - 200 = 600$. "
                      r"The book was right after all: the common mistake is to subtract the "
                      r"school's share from the per-student cost, giving $25 - 200$, which "
                      r"makes no sense."),
                ("p", "I like this problem because it rewards reading carefully: the numbers "
                      "are easy, but the order of operations is the whole point."),
            ]
            title, bench = "Reading the question carefully: a Year 6 money problem", "bench-003"
        else:
            doc = _math_doc(rng, i + 7)
            blocks = [("p", rng.choice(_BLOG_MATH_LEADS)), *doc.question, ("h2", "Solution"),
                      *doc.answer, *doc.remark,
                      ("p", "As always, comments and alternative solutions are welcome below.")]
            title, bench = doc.title, None
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(title)}/", title, blocks, "latex_img",
                             "wp", quotes_benchmark=bench,
                             meta_line=f"Posted on {_nice_date(when)} by Tom Hartley"))
    allot = rng.sample(_ALLOTMENT, len(_ALLOTMENT))
    for n in range(4):
        when = _date(rng, 2018, 2024)
        paras = allot[3 * n:3 * n + 3]
        job = rng.choice(["net the brassicas", "turn the compost", "sow more lettuce",
                          "fix the gate"])
        blocks = _p(*paras, f"Jobs for next week: {job}, and finally sort out the shed. "
                    "Weather permitting, of course.")
        title = f"Allotment diary, {_MONTHS[when.month - 1]} {when.year}"
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(title)}/", title, blocks, "none",
                             is_math=False, meta_line=f"Posted on {_nice_date(when)}"))
    for _ in range(2):
        t, blocks = _travel_post(rng)
        when = _date(rng, 2018, 2024)
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(t)}/", t, blocks, "none", is_math=False,
                             meta_line=f"Posted on {_nice_date(when)}"))
    for book, paras in _BOOKS:
        when = _date(rng, 2018, 2024)
        title = f"Book review: {book}"
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(title)}/", title, _p(*paras), "none",
                             is_math=False, meta_line=f"Posted on {_nice_date(when)}"))
    return _finish(site, drafts, rng), drafts, site


def _build_notes(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("notes.example.io", "Lin's notes", "Mostly mathematics, written down so I "
                "do not forget it", [("Posts", "/posts/"), ("About", "/about/"), ("Now",
                "/now/")], "Netlify", "modern", "#6b4fbb", cookie=False)
    drafts: list[Draft] = []
    for i in range(15):
        when = _date(rng, 2020, 2024)
        if i == 6:
            blocks: list[Block] = [
                ("p", "My nephew brought this home from school last week and asked why the "
                      "percentage comes at the end. The problem, word for word:"),
                ("rawquote", _BENCH["bench-006"]),
                ("p", r"Weekly earnings are $15 \times 6 \times 5 = 450$ dollars, so four weeks "
                      r"bring in $4 \times 450 = 1800$. Saving $20\%$ of that gives "
                      r"$$0.2 \times 1800 = 360.$$"),
                ("p", r"It does not matter when you apply the percentage: $20\%$ of each week's "
                      r"pay is $90$, and $4 \times 90 = 360$ as well. Multiplication is "
                      r"associative and commutative, which is the real lesson here."),
            ]
            title, bench = "Percentages and the order of operations", "bench-006"
        else:
            doc = _math_doc(rng, i + 11)
            # a personal lead instead of the textbook intro the tutoring and reference sites use
            blocks = [("p", rng.choice(_NOTES_LEADS)), ("h2", "Problem"), *doc.question,
                      ("h2", "Solution"), *doc.answer, *doc.remark]
            if i % 3 == 0:
                blocks += [("h2", "Background"), *doc.intro]
            title, bench = doc.title, None
        drafts.append(_vdraft(rng, f"/posts/{_slug(title)}-{i}/", title, blocks, "katex",
                             head_extra=_KATEX_HEAD, quotes_benchmark=bench,
                             meta_line=f"{_nice_date(when)} &middot; {rng.randint(3, 12)} min read"))
    for path, title, paras in _PAGES["notes"]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


def _build_tutor(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("tutor.example.com", "Bright Tutoring", "One-to-one maths tutoring online "
                "and in person", [("Lessons", "/lessons/"), ("Worksheets", "/worksheets/"),
                ("Pricing", "/pricing"), ("Contact", "/contact")], "cloudflare", "modern",
                "#e67e22")
    drafts: list[Draft] = []
    for i in range(14):
        style = "dollar" if i % 2 == 0 else "paren"
        if i == 8:
            blocks: list[Block] = [
                ("p", r"Composition of functions means feeding the output of one function into "
                      r"another. If $g$ and $f$ are functions, $(f \circ g)(x) = f(g(x))$: "
                      r"first apply $g$, then apply $f$ to the result."),
                ("p", "Here is a typical exam question of this kind:"),
                ("quote", _BENCH["bench-008"]),
                ("p", r"Work from the inside out. First $f(1) = 3 \cdot 1^2 - 2 \cdot 1 + 1 = 2$. "
                      r"Then $f(f(1)) = f(2) = 3 \cdot 4 - 4 + 1 = 9$."),
                ("p", r"A common mistake is to compute $f(1) \cdot f(1) = 4$ instead. The "
                      r"notation $f(f(1))$ never means multiplication: it means evaluate $f$ at "
                      r"the number $f(1)$."),
                ("h2", "Practice"),
                ("ol", [r"Let $g(x) = x + 4$. Compute $g(g(g(0)))$.",
                        r"Let $h(x) = x^2 - 1$. Find all $x$ with $h(h(x)) = 0$."]),
            ]
            title, bench, style = "Composition of functions", "bench-008", "dollar"
        else:
            doc = _math_doc(rng, i + 3)
            more = _math_doc(rng)
            blocks = [*doc.intro, ("h2", "Worked example"), *doc.question, ("h2", "Solution"),
                      *doc.answer, ("h2", "Practice problems"),
                      ("ol", [b[1] for b in more.question if b[0] == "p"]),
                      ("p", "Stuck? Book a free 20-minute trial lesson with one of our tutors.")]
            title, bench = doc.title, None
        drafts.append(_vdraft(rng, f"/lessons/{_slug(title)}", title, blocks, "mathjax_delims",
                             style, head_extra=_MATHJAX3_HEAD if i % 3 else _MATHJAX2_HEAD,
                             quotes_benchmark=bench))
    for i in range(3):  # plain-text (Unicode) math, no markup at all
        doc = _math_doc(rng, 17 + 2 * i)
        blocks = [("p", "Printable worksheet. Work through the example, then try the "
                        "questions at the end without looking at the solution."),
                  *doc.intro, ("h2", "Example"), *doc.question, ("h2", "Solution"), *doc.answer]
        drafts.append(_vdraft(rng, f"/worksheets/{_slug(doc.title)}-{i + 1}", "Worksheet: "
                             + doc.title, blocks, "none"))
    for path, title, paras in _PAGES["tutor"]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


def _build_oldmath(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("www.math.example.edu", "Dr. K. Hartmann, Department of Mathematics", "",
                [], "Apache/1.3.41 (Unix)", "legacy", "#0000cc", scheme="http", cookie=False)
    drafts: list[Draft] = []
    styles = ["mimetex", "codecogs", "texclass"]
    for i in range(12):
        doc = _math_doc(rng, i + 5)
        # exercise-sheet style: no theory section, so the notes differ from the other sites
        blocks = [("p", f"Exercise sheet {i // 3 + 1}, problem {i % 3 + 1}. Solutions are "
                        "discussed in the tutorial; try the problem before reading on."),
                  ("h3", "Problem"), *doc.question, ("h3", "Solution"), *doc.answer]
        if i < 10:
            drafts.append(_vdraft(rng, f"/~hartmann/notes/{doc.topic}{i + 1}.html", doc.title, blocks,
                                 "latex_img", styles[i % 3]))
        else:  # ASCII/Unicode math typed straight into the page
            drafts.append(_vdraft(rng, f"/~hartmann/notes/{doc.topic}{i + 1}.html", doc.title, blocks,
                                 "none"))
    for path, title, paras in _PAGES["oldmath"]:
        drafts.append(_vdraft(rng, path, title, _p(*paras), "none", is_math=False))
    return _finish(site, drafts, rng), drafts, site


def _build_news(rng: Rng) -> tuple[list[Page], list[Draft], Site]:
    site = Site("www.dailynews.example.com", "The Daily Courier", "Local news since 1887",
                [("Local", "/sections/local"), ("Business", "/sections/business"),
                 ("Sports", "/sections/sports"), ("Weather", "/weather"),
                 ("Opinion", "/sections/opinion")], "nginx", "news", "#b00020")
    drafts: list[Draft] = []
    for topic in _NEWS_TOPICS[:17]:  # one article per topic: templated siblings would be near-dups
        head, blocks, _key = _news_article(rng, topic)
        when = _date(rng, 2022, 2024)
        author = _person(rng)
        drafts.append(_vdraft(rng, f"/{when:%Y/%m/%d}/{_slug(head)}", head, blocks, "none",
                             is_math=False, meta_line=f"By {author} &middot; "
                             f"{_nice_date(when)} &middot; {rng.randint(2, 6)} min read"))
    for k, sec in enumerate(("local", "business")):
        main = (f"<p>The latest {sec} news from around the region.</p>"
                + _teasers(drafts[k:17:2])
                + f"<p><a href=\"/sections/{sec}?page=2\">Older stories</a></p>")
        drafts.append(Draft(f"/sections/{sec}", sec.title() + " news", main, False, "none", []))
    return _finish(site, drafts, rng), drafts, site


def _simple_site(rng: Rng, site: Site, items: list[tuple[str, str, list[Block]]]) -> list[Page]:
    drafts = [_vdraft(rng, path, title, blocks, "none", is_math=False,
                     meta_line=f"By {_person(rng)} &middot; {_nice_date(_date(rng, 2021, 2024))}")
              for path, title, blocks in items]
    return _finish(site, drafts, rng)


_FRENCH_PAGE = data_text("french_page.html")
_GERMAN_BLOCKS = data_text("german_lesson.txt")


def _build_legacy(rng: Rng) -> list[Page]:
    fr = Page("https://recettes.example.fr/desserts/creme-brulee-vanille.html", _FRENCH_PAGE,
              False, "none", [], charset="cp1252", declare_charset=False, server="Apache")
    r = MathRenderer("mathjax_delims", "dollar")
    main = _render_blocks(_doc_blocks(_GERMAN_BLOCKS), r)
    de_html = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<html lang="de">\n'
        '<head>\n<meta http-equiv="content-type" content="text/html; charset=iso-8859-1">\n'
        "<title>Analysis I - Die Ableitung der Exponentialfunktion</title>\n" + _MATHJAX2_HEAD
        + '</head>\n<body>\n<div class="kopf"><a href="/">Startseite</a> | <a href="/lehre/">'
        'Lehre</a> | <a href="/impressum.html">Impressum</a></div>\n'
        "<h1>Die Ableitung der Exponentialfunktion</h1>\n" + main
        + '\n<div class="fuss">Letzte Änderung: 3. Mai 2011. Fragen bitte an die Übungsleitung.'
        "</div>\n</body>\n</html>\n"
    )
    de = Page("https://mathe.example.de/lehre/analysis1/exponentialfunktion.html", de_html,
              True, "mathjax_delims", r.formulas, charset="iso-8859-1", declare_charset=False,
              server="Apache/2.2.22 (Debian)")
    return [fr, de]


def _build_near_dup_sites(rng: Rng, news: list[Draft], forum: list[Draft],
                          travel_site: Site, travel: list[Draft], recipes: list[Draft],
                          blog_site: Site, blog: list[Draft], news_site: Site,
                          forum_site: Site, course_site: Site, course: list[Draft]) -> list[Page]:
    pages: list[Page] = []
    old = []
    for d in (course[3], course[7]):  # last year's copy of a lecture, lightly edited
        old.append(_draft("/2023" + d.path, d.title, _perturb(d.blocks, rng, 2), d.markup,
                          d.style, head_extra=d.head_extra, near_dup_of=course_site.url(d.path),
                          meta_line=d.meta_line.replace("Fall 2024", "Fall 2023")))
    pages += _finish(course_site, old, rng, pool=course)
    wire = Site("www.wirenews.example.com", "Regional Wire", "News from across the region",
                [("Latest", "/latest"), ("Regions", "/regions"), ("About", "/about")],
                "cloudflare", "news", "#1f4e79")
    wdrafts: list[Draft] = []
    for d in news[1:7]:
        blocks = [*_perturb(d.blocks, rng, 1, math=False),
                  ("p", "This story was first published by The Daily Courier and is republished "
                        "under a content-sharing agreement.")]
        wdrafts.append(_draft("/regional/" + d.path.rsplit("/", 1)[1], d.title, blocks,
                              "none", is_math=False, near_dup_of=news_site.url(d.path),
                              meta_line=d.meta_line))
    for topic in _NEWS_TOPICS[17:]:
        head, blocks, _k = _news_article(rng, topic)
        wdrafts.append(_vdraft(rng, "/regional/" + _slug(head) + f"-{rng.randint(100, 999)}", head,
                              blocks, "none", is_math=False, meta_line="Staff report"))
    pages += _finish(wire, wdrafts, rng)

    mirror = Site("answers-mirror.example.info", "MathAnswers Archive", "Answers to "
                  "math questions", [("Home", "/"), ("Privacy", "/privacy")], "nginx",
                  "modern", "#555555")
    mdrafts: list[Draft] = []
    for d in forum[10:14]:  # scraped whole, with a few words changed
        qid = d.path.split("/")[2]
        mdrafts.append(Draft(f"/answers/{qid}.html", d.title, _perturb_html(d.main, rng, 2),
                             True, "math_container", list(d.formulas),
                             near_dup_of=forum_site.url(d.path),
                             meta_line="Source: community Q&amp;A, licensed CC BY-SA"))
    links = "".join(f'<li><a href="{m.path}">{_esc(m.title)}</a></li>' for m in mdrafts)
    mdrafts.append(Draft("/", "MathAnswers Archive - home", "<p>Browse thousands of answers to "
                         "math questions, collected from public question and answer sites and "
                         "organised by topic. New answers are added every night.</p><p>Recently "
                         f"added:</p><ul>{links}</ul><p>Looking for something specific? Use "
                         "the search box at the top of every page.</p>", False, "none", []))
    mdrafts.append(_vdraft(rng, "/privacy", "Privacy policy", _p(
        "We collect anonymous usage statistics and show advertising from third-party networks, "
        "which may set cookies in your browser.",
        "You can opt out of personalised advertising in your browser settings. We never sell "
        "email addresses."), "none", is_math=False))
    pages += _finish(mirror, mdrafts, rng)

    amp = []
    for d in travel[:2]:
        amp.append(_draft("/amp" + d.path, d.title, _perturb(d.blocks, rng, 2, math=False),
                          "none", is_math=False, near_dup_of=travel_site.url(d.path)))
    pages += _finish(travel_site, amp, rng, pool=travel)
    d = recipes[0]
    repost = _draft("/2023/06/02/" + d.path.rsplit("/", 1)[1] + "/", d.title,
                    [("p", "Reposted with permission from a favourite recipe site."),
                     *_perturb(d.blocks, rng, 2, math=False)], "none", is_math=False,
                    near_dup_of="https://recipes.example.net" + d.path)
    pages += _finish(blog_site, [repost], rng, pool=blog)
    return pages


def _collect_pages(seed: int) -> tuple[list[Page], Rng]:
    master = random.Random(seed)

    def sub() -> Rng:  # independent streams so one site's edits don't reshuffle the others
        return random.Random(master.getrandbits(64))

    forum_pages, forum_drafts, forum_site = _build_forum(sub())
    course_pages, course_drafts, course_site = _build_course(sub())
    wiki_pages, _, _ = _build_wiki(sub())
    enc_pages, _, _ = _build_encyclopedia(sub())
    blog_pages, blog_drafts, blog_site = _build_blog(sub())
    notes_pages, _, _ = _build_notes(sub())
    tutor_pages, _, _ = _build_tutor(sub())
    old_pages, _, _ = _build_oldmath(sub())
    news_pages, news_drafts, news_site = _build_news(sub())

    rng = sub()
    recipes_site = Site("recipes.example.net", "Simply Home Cooking", "Easy recipes for "
                        "busy weeknights", [("Recipes", "/recipe/"), ("Dinner", "/category/"
                        "dinner"), ("Baking", "/category/baking"), ("About", "/about")],
                        "nginx", "modern", "#2e7d32")
    recipe_items = []
    for i in range(len(_RECIPES)):
        name, blocks = _recipe(rng, i)
        recipe_items.append((f"/recipe/{_slug(name)}", name, blocks))
    recipe_drafts = [_vdraft(rng, p, t, b, "none", is_math=False,
                            meta_line=f"By {_person(rng)} &middot; Updated "
                            f"{_nice_date(_date(rng, 2021, 2024))}") for p, t, b in recipe_items]
    for k, cat in enumerate(("dinner", "baking")):
        recipe_drafts.append(Draft(f"/category/{cat}", f"{cat.title()} recipes",
                                   f"<p>Our favourite {cat} recipes, tested in a real home "
                                   "kitchen.</p>" + _teasers(recipe_drafts[k:len(_RECIPES):2]),
                                   False, "none", []))
    recipe_pages = _finish(recipes_site, recipe_drafts, rng)

    travel_site = Site("travelblog.example.com", "Two Backpacks", "Slow travel, good food, "
                       "cheap trains", [("Destinations", "/destinations"), ("Itineraries",
                       "/itineraries"), ("About us", "/about")], "nginx", "modern", "#00796b")
    travel_drafts = []
    for i in range(14):
        t, blocks = _travel_post(rng, i)
        travel_drafts.append(_vdraft(rng, f"/posts/{_slug(t)}-{i + 1}/", t, blocks, "none",
                                    is_math=False, meta_line=f"{_nice_date(_date(rng))}"))
    travel_pages = _finish(travel_site, travel_drafts, rng)

    sports_site = Site("sports.example.com", "Regional Sports Weekly", "Scores, reports and "
                       "analysis", [("Football", "/football"), ("Basketball", "/basketball"),
                       ("Results", "/results"), ("Tickets", "/tickets")], "cloudflare",
                       "news", "#0d47a1")
    sports_items = []
    for i in range(14):
        t, blocks = _sports_report(rng)
        sports_items.append((f"/match-report/{_slug(t)}-{i + 1}", t, blocks))
    sports_pages = _simple_site(rng, sports_site, sports_items)

    gadgets_site = Site("gadgets.example.com", "Gadget Lab", "Honest reviews of everyday tech",
                        [("Reviews", "/reviews"), ("Deals", "/deals"), ("Guides", "/guides")],
                        "cloudflare", "modern", "#37474f")
    review_items = []
    for i in range(len(_PRODUCTS)):
        t, blocks = _review(rng, i)
        review_items.append((f"/reviews/{_slug(t)}", t, blocks))
    review_pages = _simple_site(rng, gadgets_site, review_items)

    dup_pages = _build_near_dup_sites(sub(), news_drafts, forum_drafts, travel_site,
                                      travel_drafts, recipe_drafts, blog_site, blog_drafts,
                                      news_site, forum_site, course_site, course_drafts)
    legacy_pages = _build_legacy(sub())

    pages = (forum_pages + course_pages + wiki_pages + enc_pages + blog_pages + notes_pages
             + tutor_pages + old_pages + news_pages + recipe_pages + travel_pages
             + sports_pages + review_pages + dup_pages + legacy_pages)

    # exact copies at different URLs (tracking parameters, short links, index.php)
    copies = []
    for orig, url in [
        (news_pages[0], news_pages[0].url + "?utm_source=newsletter&utm_medium=email"),
        (forum_pages[1], "https://mathforum.example.org/q/" + forum_pages[1].url.split("/")[4]),
        (wiki_pages[0], "https://proofwiki.example.org/index.php?title="
         + wiki_pages[0].url.rsplit("/", 1)[1]),
    ]:
        copies.append(Page(url, orig.html, orig.is_math, orig.markup, list(orig.formulas),
                           near_dup_of=orig.url, server=orig.server))
    pages += copies
    forum_pages[2].chunked = True  # raw chunked transfer encoding in the payload
    course_pages[0].content_encoding = "gzip"

    urls = [p.url for p in pages]
    dups = sorted({u for u in urls if urls.count(u) > 1})
    assert not dups, f"duplicate URLs in sample crawl: {dups}"
    return pages, sub()
