"""Non-math content: news, recipes, travel, sports and review pages (texts in sample/data/)."""

from __future__ import annotations

from sample.text import (
    _COMPANIES,
    _MONTHS,
    _STREETS,
    _TOWNS,
    _WEEKDAYS,
    Block,
    Rng,
    _fill,
    _ordinal,
    _person,
    _thousands,
    data_json,
    rows,
)

_NEWS_TOPICS: list[tuple[str, str, list[str]]] = rows(data_json("news.json")["topics"])


def _news_article(rng: Rng, topic: tuple | None = None) -> tuple[str, list[Block], str]:
    key, head, paras = topic or rng.choice(_NEWS_TOPICS)
    p1, p2 = _person(rng), _person(rng)
    kw = dict(town=rng.choice(_TOWNS), amt=f"{rng.randint(12, 480)}.{rng.randint(1, 9)}",
              votes=rng.choice(["6-3", "5-4", "7-2", "8-1"]), day=rng.choice(_WEEKDAYS),
              pct=rng.randint(3, 18), n=rng.randint(4, 60), k=_thousands(rng.randint(300, 9000)),
              p1=p1, p2=p2, p1s=p1.split()[1], p2s=p2.split()[1], street=rng.choice(_STREETS),
              month=rng.choice(_MONTHS), date=rng.randint(2, 28), temp=rng.randint(18, 29),
              small=rng.choice([5, 6, 8, 10]), small0=rng.choice([35, 40, 45, 55]),
              big=rng.choice([70, 85, 95, 110]), company=rng.choice(_COMPANIES),
              pct2=rng.randint(2, 9))
    blocks: list[Block] = [("p", _fill(t, **kw)) for t in paras]
    return _fill(head, **kw), blocks, key


_RECIPE_DATA = data_json("recipes.json")
_RECIPES: list[tuple[str, list[str], list[str]]] = rows(_RECIPE_DATA["recipes"])
_RECIPE_INTROS: list[str] = _RECIPE_DATA["intros"]
_RECIPE_NOTES: list[str] = _RECIPE_DATA["notes"]


def _recipe(rng: Rng, idx: int | None = None) -> tuple[str, list[Block]]:
    name, ingr, steps = _RECIPES[idx % len(_RECIPES)] if idx is not None else rng.choice(_RECIPES)
    prep, cook = rng.choice([10, 15, 20, 25]), rng.choice([15, 25, 40, 55, 60])
    blocks: list[Block] = [
        ("p", rng.choice(_RECIPE_INTROS)),
        ("p", f"Prep time: {prep} minutes. Cook time: {cook} minutes. "
              f"Total: {prep + cook} minutes. Serves {rng.randint(2, 8)}."),
        ("h2", "Ingredients"), ("ul", list(ingr)),
        ("h2", "Instructions"), ("ol", list(steps)),
        ("h2", "Notes"), ("ul", rng.sample(_RECIPE_NOTES, 2)),
        ("p", f"Rated {rng.choice(['4.5', '4.7', '4.8', '4.9'])} out of 5 by "
              f"{rng.randint(12, 900)} readers. Did you make this? Leave a comment below and "
              "tag us in your photos!"),
    ]
    return name, blocks


_TRAVEL = data_json("travel.json")
_CITIES: list[tuple[str, str, list[str], str, str]] = rows(_TRAVEL["cities"])
_TRAVEL_INTROS: list[str] = _TRAVEL["intros"]
_TRAVEL_ARRIVE: list[str] = _TRAVEL["arrive"]
_TRAVEL_DAYS: list[str] = _TRAVEL["days"]
_TRAVEL_FOOD: list[str] = _TRAVEL["food"]
_TRAVEL_STAY: list[str] = _TRAVEL["stay"]
_TRAVEL_TIPS: list[str] = _TRAVEL["tips"]
_TRAVEL_OUTROS: list[str] = _TRAVEL["outros"]


def _travel_post(rng: Rng, idx: int | None = None) -> tuple[str, list[Block]]:
    city, cur, sights, food, blurb = (_CITIES[idx % len(_CITIES)] if idx is not None
                                      else rng.choice(_CITIES))
    days = rng.randint(3, 6)
    s = list(sights)
    rng.shuffle(s)
    kw = dict(city=city, days=days, season=rng.choice(["spring", "autumn", "summer", "winter"]),
              food=food, cur=cur, hotel=rng.randint(45, 160))
    title = rng.choice([f"{days} days in {city}: an unhurried itinerary",
                        f"{city} on a budget: what we loved and what we skipped",
                        f"A long weekend in {city}", f"First impressions of {city}",
                        f"What to do in {city} when it rains"])
    day_tpls = rng.sample(_TRAVEL_DAYS, min(days - 1, 4))
    blocks: list[Block] = [("p", _fill(rng.choice(_TRAVEL_INTROS), **kw)), ("p", blurb)]
    if rng.random() < 0.6:
        blocks += [("h2", "Getting there and getting around"), ("p", rng.choice(_TRAVEL_ARRIVE))]
    for n, tpl in enumerate(day_tpls):
        blocks += [("h2", f"Day {n + 1}"),
                   ("p", _fill(tpl, sight=s[n % len(s)], cur=cur, price=rng.randint(15, 60)))]
    blocks += [("h2", "Food"), ("p", _fill(rng.choice(_TRAVEL_FOOD), **kw)),
               ("h2", "Where we stayed"), ("p", _fill(rng.choice(_TRAVEL_STAY), **kw)),
               ("h2", "Practical tips"), ("ul", rng.sample(_TRAVEL_TIPS, 3)),
               ("p", _fill(rng.choice(_TRAVEL_OUTROS), **kw))]
    return title, blocks


_SPORTS = data_json("sports.json")
_TEAMS: list[str] = _SPORTS["football_teams"]
_HOOPS: list[str] = _SPORTS["basketball_teams"]
_FB_OPEN: list[str] = _SPORTS["football_open"]
_FB_FIRST: list[str] = _SPORTS["football_first"]
_FB_SECOND: list[str] = _SPORTS["football_second"]
_FB_QUOTE: list[str] = _SPORTS["football_quote"]
_BB_RUNS: list[str] = _SPORTS["basketball_runs"]
_BB_QUOTE: list[str] = _SPORTS["basketball_quote"]


def _sports_report(rng: Rng) -> tuple[str, list[Block]]:
    if rng.random() < 0.55:
        home, away = rng.sample(_TEAMS, 2)
        hg, ag = rng.randint(0, 4), rng.randint(0, 3)
        m1, m2 = sorted(rng.sample(range(3, 90), 2))
        kw = dict(home=home, away=away, scorer=_person(rng), keeper=_person(rng),
                  coach=_person(rng), m1=_ordinal(m1), m2=_ordinal(m2),
                  att=_thousands(rng.randint(4000, 28000)),
                  result="beat" if hg > ag else "were held by" if hg == ag else "lost to")
        kind = rng.choice(["match report", "report and ratings", "what we learned"])
        title = f"{home} {hg}-{ag} {away}: {kind}"
        pos = rng.randint(38, 62)
        blocks: list[Block] = [
            ("p", _fill(rng.choice(_FB_OPEN), **kw)),
            ("p", _fill(rng.choice(_FB_FIRST), **kw)),
            ("p", _fill(rng.choice(_FB_SECOND), **kw)),
            ("p", _fill(rng.choice(_FB_QUOTE), **kw)),
            ("h2", "Key stats"),
            ("ul", [f"Possession: {pos}% - {100 - pos}%",
                    f"Shots on target: {rng.randint(2, 9)} - {rng.randint(1, 7)}",
                    f"Corners: {rng.randint(2, 11)} - {rng.randint(1, 8)}",
                    f"Yellow cards: {rng.randint(0, 4)} - {rng.randint(0, 4)}"]),
            ("p", f"{home} travel to {rng.choice(_TOWNS)} next, while {away} "
                  f"{rng.choice(['host the league leaders', 'have a week off', 'face a cup replay'])}."),
        ]
    else:
        home, away = rng.sample(_HOOPS, 2)
        hp, ap = rng.randint(88, 124), rng.randint(85, 120)
        if hp == ap:
            hp += 3
        win, lose = (home, away) if hp > ap else (away, home)
        star, bench = _person(rng), _person(rng)
        title = f"{win} {rng.choice(['win', 'hold off', 'outlast'])} {lose} behind {star}"
        blocks = [
            ("p", f"{star} scored {rng.randint(24, 41)} points and grabbed {rng.randint(6, 15)} "
                  f"rebounds as the {win} beat the {lose} {max(hp, ap)}-{min(hp, ap)}."),
            ("p", rng.choice(_BB_RUNS)),
            ("p", f"{bench} added {rng.randint(10, 22)} points off the bench"
                  + rng.choice([", including four three-pointers.", " in just 19 minutes.",
                                ", and handed out six assists."])),
            ("p", _fill(rng.choice(_BB_QUOTE), star=star)),
            ("p", f"The win moves them to {rng.randint(10, 30)}-{rng.randint(5, 25)} on the "
                  "season." + rng.choice([" Tickets for Sunday's home game start at $19, and "
                                          "fans with a student ID get $5 off.",
                                          " Next up is a three-game road trip.", ""])),
        ]
    return title, blocks


_REVIEWS = data_json("reviews.json")
_PRODUCTS: list[tuple[str, str, list[str], list[str], str]] = rows(_REVIEWS["products"])
_REVIEW_DESIGN: list[str] = _REVIEWS["design"]
_REVIEW_USE: list[str] = _REVIEWS["use"]


def _review(rng: Rng, idx: int | None = None) -> tuple[str, list[Block]]:
    kind, name, pros, cons, detail = (_PRODUCTS[idx % len(_PRODUCTS)] if idx is not None
                                      else rng.choice(_PRODUCTS))
    price = rng.choice([49, 79, 99, 129, 149, 199, 249, 299])
    verdict = rng.choice(["worth the money?", "a great mid-range pick", "almost perfect",
                          "good, not great"])
    title = f"{name} review: {verdict}"
    blocks: list[Block] = [
        ("p", f"The {name} is the latest {kind.lower()} to land on our desk, and at ${price} it "
              f"sits in the crowded middle of the market. We used it for {rng.randint(2, 6)} "
              "weeks to see whether it deserves a spot on your shopping list."),
        ("h2", "Design"), ("p", rng.choice(_REVIEW_DESIGN)),
        ("h2", "Performance"), ("p", detail + " " + rng.choice(_REVIEW_USE)),
        ("h2", "Pros"), ("ul", list(pros)),
        ("h2", "Cons"), ("ul", list(cons)),
        ("h2", "Price and verdict"),
        ("p", f"At the time of writing several retailers have it for "
              f"${price - rng.choice([10, 20, 30])}, and newsletter subscribers get $5 off with "
              f"the code SAVE5. Score: {rng.choice(['7', '7.5', '8', '8.5', '9'])}/10."),
    ]
    return title, blocks
