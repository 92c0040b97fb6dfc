"""Sites, drafts and pages, and the page chrome (the boilerplate main-content extraction must
drop): head, navigation, sidebars, footers and cookie banners in a few site layouts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import quote

from sample.tex import MathRenderer, _render_blocks
from sample.text import Block, Rng, _attr, _esc, data_text


@dataclass
class Site:
    host: str
    name: str
    tagline: str
    nav: list[tuple[str, str]]
    server: str
    layout: str  # modern | news | forum | wiki | legacy
    accent: str
    scheme: str = "https"
    cookie: bool = True
    lang: str = "en"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}{path}"


@dataclass
class Draft:
    """A page before its site chrome is applied."""

    path: str
    title: str
    main: str  # rendered main content (no <h1>)
    is_math: bool
    markup: str
    formulas: list[str]
    blocks: list[Block] = field(default_factory=list)  # kept for near-duplicates
    style: str = ""
    head_extra: str = ""
    meta_line: str = ""
    quotes_benchmark: str | None = None
    near_dup_of: str | None = None
    full: bool = False  # main already contains the whole page body (forum pages)


@dataclass
class Page:
    url: str
    html: str
    is_math: bool
    markup: str
    formulas: list[str]
    near_dup_of: str | None = None
    quotes_benchmark: str | None = None
    charset: str = "utf-8"
    declare_charset: bool = True
    content_encoding: str | None = None
    chunked: bool = False
    server: str = "nginx"

    @property
    def domain(self) -> str:
        return self.url.split("/")[2].lower()


_CSS = data_text("site.css")

_SCRIPTS = (
    '<script async src="https://www.googletagmanager.com/gtag/js?id=@gid"></script>\n'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','@gid',{anonymize_ip:true});</script>\n"
)


def _gid(host: str) -> str:
    return "G-" + hashlib.sha1(host.encode()).hexdigest()[:10].upper()


def _head(site: Site, title: str, url: str, extra: str, charset: str = "utf-8",
          desc: str = "") -> str:
    css = _CSS.replace("@accent", site.accent)
    return (
        f'<!DOCTYPE html>\n<html lang="{site.lang}">\n<head>\n<meta charset="{charset}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)} | {_esc(site.name)}</title>\n"
        f'<meta name="description" content="{_attr(desc or title)}">\n'
        f'<meta property="og:title" content="{_attr(title)}">\n'
        f'<meta property="og:site_name" content="{_attr(site.name)}">\n'
        f'<meta property="og:url" content="{_attr(url)}">\n'
        '<meta name="twitter:card" content="summary">\n'
        f'<link rel="canonical" href="{_attr(url)}">\n'
        '<link rel="icon" href="/favicon.ico">\n'
        '<link rel="stylesheet" href="/static/css/main.4f1c2a9e.css">\n'
        f"<style>{css}</style>\n{extra}"
        + _SCRIPTS.replace("@gid", _gid(site.host))
        + "</head>\n"
    )


def _nav_html(site: Site) -> str:
    items = "".join(f'<li><a href="{_attr(p)}">{_esc(label)}</a></li>' for label, p in site.nav)
    return (f'<header class="site-header"><div class="logo"><a href="/">{_esc(site.name)}</a>'
            f'</div><p class="tagline">{_esc(site.tagline)}</p>'
            f'<nav class="main-nav" aria-label="Main"><ul>{items}</ul></nav>'
            '<form class="search" action="/search" method="get" role="search">'
            '<input type="search" name="q" placeholder="Search..." aria-label="Search">'
            "<button type=\"submit\">Search</button></form></header>\n")


def _footer_html(site: Site, year: int = 2024) -> str:
    return (
        '<footer class="site-footer"><div class="footer-cols">'
        f'<div><h4>{_esc(site.name)}</h4><p>{_esc(site.tagline)}</p></div>'
        '<div><h4>About</h4><ul><li><a href="/about">About us</a></li>'
        '<li><a href="/contact">Contact</a></li><li><a href="/careers">Careers</a></li></ul></div>'
        '<div><h4>Legal</h4><ul><li><a href="/privacy">Privacy policy</a></li>'
        '<li><a href="/terms">Terms of use</a></li><li><a href="/cookies">Cookie settings</a>'
        '</li></ul></div><div><h4>Follow</h4><ul><li><a href="https://twitter.example.com/">'
        'Twitter</a></li><li><a href="https://facebook.example.com/">Facebook</a></li>'
        '<li><a href="/feed.xml">RSS</a></li></ul></div></div>'
        f"<p>&copy; {year} {_esc(site.name)}. All rights reserved. Reproduction without "
        "permission is prohibited.</p></footer>\n"
    )


_COOKIE = (
    '<div id="cookie-notice" class="cookie-banner" role="dialog" aria-live="polite"><p>We use '
    "cookies and similar technologies to improve your experience, analyse traffic and show "
    "personalised content. By clicking \"Accept all\" you agree to our use of cookies. "
    '<a href="/cookies">Learn more</a></p><button id="cookie-accept">Accept all</button>'
    '<button id="cookie-manage">Manage preferences</button></div>\n'
)


def _sidebar(site: Site, related: list[tuple[str, str]], news: bool) -> str:
    rel = "".join(f'<li><a href="{_attr(p)}">{_esc(t)}</a></li>' for t, p in related)
    out = (f'<aside class="sidebar"><div class="widget"><h3>'
           f'{"Most read" if news else "Related posts"}</h3><ul>{rel}</ul></div>'
           '<div class="widget ad-slot" data-ad-unit="sidebar-300x250">Advertisement</div>'
           '<div class="widget newsletter"><h3>Newsletter</h3><p>Get the best stories in your '
           'inbox every week. No spam, unsubscribe any time.</p><form action="/subscribe" '
           'method="post"><input type="email" name="email" placeholder="you@example.com">'
           "<button>Subscribe</button></form></div>")
    if not news:
        out += ('<div class="widget"><h3>Archives</h3><ul><li><a href="/2024/04/">April 2024'
                '</a></li><li><a href="/2024/03/">March 2024</a></li><li><a href="/2024/02/">'
                "February 2024</a></li><li><a href=\"/2024/01/\">January 2024</a></li></ul></div>")
    return out + "</aside>\n"


def _chrome_modern(site: Site, d: Draft, related: list[tuple[str, str]]) -> str:
    url = site.url(d.path)
    news = site.layout == "news"
    crumbs = " &rsaquo; ".join(
        ['<a href="/">Home</a>'] + [f'<a href="/{_attr(seg)}/">{_esc(seg.title())}</a>'
                                     for seg in d.path.strip("/").split("/")[:1] if seg]
    )
    share = (f'<div class="share">Share this: <a href="https://twitter.example.com/intent/tweet?'
             f'url={quote(url, safe="")}">Twitter</a><a href="https://facebook.example.com/'
             f'sharer.php?u={quote(url, safe="")}">Facebook</a><a href="mailto:?subject='
             f'{quote(d.title)}">Email</a></div>')
    ticker = ""
    if news:
        ticker = ('<div class="ticker"><strong>Breaking:</strong> Traffic delays on the ring '
                  'road after a lane closure &middot; <a href="/weather">Weather: 14&deg;C, '
                  "cloudy</a> &middot; <a href=\"/subscribe\">Subscribe from $1/week</a></div>\n")
    return (
        _head(site, d.title, url, d.head_extra)
        + f'<body class="{site.layout} single">\n<a class="skip-link" href="#main">Skip to '
        "content</a>\n" + _nav_html(site) + ticker
        + f'<div class="breadcrumbs">{crumbs}</div>\n<div class="container">\n'
        f'<main id="main"><article class="post">\n<h1 class="entry-title">{_esc(d.title)}</h1>\n'
        f'<div class="meta">{d.meta_line}</div>\n<div class="entry-content">\n{d.main}\n'
        f"</div>\n</article>\n{share}\n"
        '<section class="comments"><h3>Comments</h3><p>Comments are closed for this post.</p>'
        "</section></main>\n" + _sidebar(site, related, news) + "</div>\n"
        + _footer_html(site) + (_COOKIE if site.cookie else "")
        + '<script src="/static/js/app.min.js" defer></script>\n</body>\n</html>\n'
    )


def _chrome_wiki(site: Site, d: Draft, related: list[tuple[str, str]]) -> str:
    url = site.url(d.path)
    rel = "".join(f'<li><a href="{_attr(p)}">{_esc(t)}</a></li>' for t, p in related)
    return (
        _head(site, d.title, url, d.head_extra)
        + '<body class="mediawiki ltr skin-vector">\n<div id="mw-page-base"></div>\n'
        '<div id="mw-head"><div id="p-personal"><ul><li><a href="/wiki/Special:UserLogin">'
        'Log in</a></li><li><a href="/wiki/Special:CreateAccount">Create account</a></li></ul>'
        '</div><div id="left-navigation"><ul><li class="selected"><a href="#">Page</a></li><li>'
        '<a href="#">Discussion</a></li></ul></div><div id="right-navigation"><ul><li><a '
        'href="#">Read</a></li><li><a href="#">Edit</a></li><li><a href="#">View history</a>'
        '</li></ul><form id="searchform" action="/index.php"><input name="search" '
        'placeholder="Search ProofWiki"></form></div></div>\n'
        '<div id="content" class="mw-body" role="main">\n'
        f'<h1 id="firstHeading" class="firstHeading">{_esc(d.title)}</h1>\n'
        f'<div id="bodyContent"><div id="siteSub">From {_esc(site.name)}</div>'
        '<div id="jump-to-nav"></div>\n<div id="mw-content-text" class="mw-body-content">'
        f'<div class="mw-parser-output">\n{d.main}\n</div></div>\n'
        '<div id="catlinks" class="catlinks"><div id="mw-normal-catlinks"><a '
        'href="/wiki/Special:Categories">Categories</a>: <ul><li><a href="/wiki/Category:Proven_'
        'Results">Proven Results</a></li><li><a href="/wiki/Category:Definitions">Definitions'
        "</a></li></ul></div></div></div></div>\n"
        '<div id="mw-panel"><div class="portal" id="p-navigation"><h3>Navigation</h3><ul>'
        '<li><a href="/wiki/Main_Page">Main page</a></li><li><a href="/wiki/Special:Recent'
        'Changes">Recent changes</a></li><li><a href="/wiki/Special:Random">Random proof</a>'
        '</li><li><a href="/wiki/Help:Contents">Help</a></li></ul></div>'
        f'<div class="portal" id="p-related"><h3>See also</h3><ul>{rel}</ul></div>'
        '<div class="portal" id="p-tb"><h3>Tools</h3><ul><li><a href="#">What links here</a>'
        '</li><li><a href="#">Printable version</a></li><li><a href="#">Permanent link</a>'
        "</li></ul></div></div>\n"
        '<div id="footer" role="contentinfo"><ul id="footer-info"><li id="footer-info-lastmod">'
        "This page was last modified on 14 March 2024, at 09:12.</li><li>Content is available "
        "under Creative Commons Attribution-ShareAlike License unless otherwise noted.</li></ul>"
        '<ul id="footer-places"><li><a href="/wiki/ProofWiki:Privacy_policy">Privacy policy'
        '</a></li><li><a href="/wiki/ProofWiki:About">About ProofWiki</a></li><li><a href="/'
        'wiki/ProofWiki:General_disclaimer">Disclaimers</a></li></ul></div>\n</body>\n</html>\n'
    )


def _chrome_legacy(site: Site, d: Draft, related: list[tuple[str, str]],
                   charset: str = "") -> str:
    rel = "\n".join(f'<LI><A HREF="{_attr(p)}">{_esc(t)}</A>' for t, p in related)
    meta = (f'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset={charset}">\n'
            if charset else "")
    return (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<HTML>\n<HEAD>\n'
        f"{meta}<TITLE>{_esc(d.title)}</TITLE>\n{d.head_extra}</HEAD>\n"
        '<BODY BGCOLOR="#FFFFFF" TEXT="#000000" LINK="#0000CC" VLINK="#551A8B">\n'
        f'<TABLE WIDTH="100%" BORDER="0" CELLPADDING="4"><TR><TD BGCOLOR="#DDDDEE">'
        f'<FONT FACE="Arial" SIZE="2"><A HREF="/~hartmann/">Home</A> | <A HREF="/~hartmann/'
        'teaching.html">Teaching</A> | <A HREF="/~hartmann/notes/">Notes</A> | <A HREF="/">'
        f"Department</A></FONT></TD></TR></TABLE>\n<H1>{_esc(d.title)}</H1>\n"
        f"{d.main}\n<HR>\n<P><B>Other notes:</B></P>\n<UL>\n{rel}\n</UL>\n<HR>\n"
        f"<ADDRESS>{_esc(site.name)}<BR>Last modified: Tue Oct 3 14:02:11 CEST 2006</ADDRESS>\n"
        '<P><FONT SIZE="1">Visitors since 1998: <IMG SRC="/cgi-bin/counter.gif" ALT="counter">'
        "</FONT></P>\n</BODY>\n</HTML>\n"
    )


def _chrome_forum(site: Site, d: Draft, related: list[tuple[str, str]]) -> str:
    url = site.url(d.path)
    rel = "".join(
        f'<div class="spacer"><a href="{_attr(p)}" class="question-hyperlink">{_esc(t)}</a>'
        "</div>" for t, p in related
    )
    hot = ("<li><a href=\"https://cooking.example.org/q/1\">Why does my bread collapse in the "
           "oven?</a></li><li><a href=\"https://travel.example.org/q/2\">Do I need a transit "
           "visa for a layover?</a></li><li><a href=\"https://diy.example.org/q/3\">How to fix "
           "a squeaky floorboard under carpet</a></li>")
    body = d.main if d.full else f'<h1>{_esc(d.title)}</h1>\n{d.main}'
    return (
        _head(site, d.title, url, d.head_extra)
        + '<body class="question-page unified-theme">\n<header class="s-topbar"><div '
        f'class="s-topbar--container"><a class="s-topbar--logo" href="/">{_esc(site.name)}</a>'
        '<ol class="s-navigation"><li><a href="/about">About</a></li><li><a href="/help">Help'
        '</a></li></ol><form id="search" action="/search"><input name="q" placeholder="Search'
        '..." autocomplete="off"></form><ol class="s-topbar--content"><li><a href="/users/'
        'login" class="s-btn">Log in</a></li><li><a href="/users/signup" class="s-btn '
        's-btn__primary">Sign up</a></li></ol></div></header>\n'
        '<div class="container"><div id="left-sidebar"><nav role="navigation"><ol class="nav-'
        'links"><li><a href="/">Home</a></li><li><a href="/questions">Questions</a></li><li>'
        '<a href="/tags">Tags</a></li><li><a href="/users">Users</a></li><li><a href="/'
        'unanswered">Unanswered</a></li></ol></nav></div>\n'
        f'<div id="content"><div id="mainbar" role="main">\n{body}\n</div>\n'
        '<div id="sidebar"><div class="s-sidebarwidget"><ul><li>The Overflow Blog</li><li><a '
        'href="/blog/1">How we rebuilt search this year</a></li><li><a href="/blog/2">Community '
        "moderator elections are open</a></li></ul></div>"
        f'<div class="module sidebar-related"><h4>Related</h4>{rel}</div>'
        f'<div id="hot-network-questions" class="module"><h4>Hot Network Questions</h4><ul>{hot}'
        "</ul></div></div></div></div>\n"
        '<footer id="footer" class="site-footer"><div class="site-footer--container"><ul><li>'
        '<a href="/tour">Tour</a></li><li><a href="/help">Help</a></li><li><a href="/legal/'
        'privacy-policy">Privacy</a></li><li><a href="/legal/terms-of-service">Terms</a></li>'
        '</ul><p class="site-footer--copyright">Site design / logo &copy; 2024 Forum Network '
        "Inc; user contributions licensed under CC BY-SA. rev 2024.4.30.8412</p></div></footer>\n"
        + (_COOKIE if site.cookie else "")
        + '<script src="/js/stub.en.js?v=8f1c" defer></script>\n</body>\n</html>\n'
    )


def _finish(site: Site, drafts: list[Draft], rng: Rng,
            pool: list[Draft] | None = None) -> list[Page]:
    """Apply the site's chrome, with 'related' links drawn from the same site."""
    pages: list[Page] = []
    for d in drafts:
        others = [(o.title, o.path) for o in (pool or drafts) if o.path != d.path]
        related = rng.sample(others, min(5, len(others)))
        if site.layout == "wiki":
            doc = _chrome_wiki(site, d, related)
        elif site.layout == "forum":
            doc = _chrome_forum(site, d, related)
        elif site.layout == "legacy":
            doc = _chrome_legacy(site, d, related)
        else:
            doc = _chrome_modern(site, d, related)
        pages.append(Page(site.url(d.path), doc, d.is_math, d.markup, list(d.formulas),
                          d.near_dup_of, d.quotes_benchmark, server=site.server))
    return pages


def _draft(path: str, title: str, blocks: list[Block], markup: str, style: str = "",
           is_math: bool = True, parse: bool | None = None, **kw: object) -> Draft:
    r = MathRenderer(markup, style)
    main = _render_blocks(blocks, r, parse=is_math if parse is None else parse)
    return Draft(path, title, main, is_math, markup, r.formulas, blocks=blocks, style=style,
                 **kw)  # type: ignore[arg-type]


def _teasers(drafts: list[Draft]) -> str:
    """River of headlines with the opening words of each story, as index pages show them."""
    out = []
    for d in drafts:
        first = next((b[1] for b in d.blocks if b[0] == "p"), "")
        words = first.split()
        teaser = " ".join(words[:28]) + (" ..." if len(words) > 28 else "")
        out.append(f'<article class="teaser"><h3><a href="{_attr(d.path)}">{_esc(d.title)}</a>'
                   f"</h3><p>{_esc(teaser)}</p></article>")
    return '<div class="river">' + "".join(out) + "</div>"
