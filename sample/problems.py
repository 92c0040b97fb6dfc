"""Math content: seeded generators of worked problems with specific numbers, and the
hand-written theorem and definition pages (sample/data/theorems.txt, definitions.txt)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from math import acos, comb, degrees, exp, factorial, gcd, isqrt, log, sqrt

from sample.tex import _dec, _ftex, _lin, _par, _poly, _sqrt_eq, _sqrt_tex
from sample.text import Block, Rng, _fill, _thousands, data_text


@dataclass
class MathDoc:
    """One piece of math content; sites render it in their own style."""

    topic: str
    title: str  # neutral title, plain text
    ask: str  # forum-style question title
    tags: list[str]
    intro: list[Block]  # theory / definitions
    question: list[Block]  # the problem as a student would post it
    answer: list[Block]  # worked solution
    remark: list[Block] = field(default_factory=list)


def _p(*texts: str) -> list[Block]:
    return [("p", t) for t in texts]


def _xpow(n: int, var: str = "x") -> str:
    return var if n == 1 else f"{var}^{n}" if n < 10 else f"{var}^{{{n}}}"


def _g_quadratic(rng: Rng) -> MathDoc:
    a = rng.choice([1, 1, 1, 2, 3])
    r1, r2 = rng.sample([n for n in range(-9, 10) if n != 0], 2)
    b, c = -a * (r1 + r2), a * r1 * r2
    disc = b * b - 4 * a * c
    s = isqrt(disc)
    x1, x2 = (-b + s) // (2 * a), (-b - s) // (2 * a)
    kw = dict(lhs=_poly([a, b, c]), a=a, b=b, c=c, pb=_par(b), pc=_par(c), d=disc, s=s,
              nb=-b, ta=2 * a, x1=x1, x2=x2, sm=_ftex(Fraction(-b, a)), fx1=_lin(x1),
              pr=_ftex(Fraction(c, a)),
              fact=("" if a == 1 else str(a)) + f"({_lin(x1)})({_lin(x2)})")
    q = rng.choice([
        r"I have to solve $@lhs = 0$ for real $x$. I tried completing the square but the "
        r"fractions got messy and I ended up with two different answers on two attempts. Is "
        r"there a cleaner method, and how can I check which answer is right?",
        r"Our teacher gave us the equation $$@lhs = 0$$ and asked for all real solutions. I "
        r"know there is a formula for this but I am not sure how to use it when some of the "
        r"coefficients are negative. Could someone walk me through it step by step?",
        r"Find all real roots of $@lhs = 0$. I got $x = @x1$ but the answer key lists two "
        r"roots, so I must have lost one somewhere when I divided.",
    ])
    ans = _p(
        rng.choice(["Use the quadratic formula.", "The cleanest route is the quadratic formula.",
                    "Nothing fancy is needed here; the quadratic formula does it."])
        + r" For $ax^2 + bx + c = 0$ with $a \neq 0$ the solutions are "
        r"$$x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}.$$ Here $a = @a$, $b = @b$ and $c = @c$, so "
        r"the discriminant is $$\Delta = b^2 - 4ac = @pb^2 - 4 \cdot @a \cdot @pc = @d.$$",
        r"Since $\Delta = @d > 0$ and $\sqrt{@d} = @s$, there are two distinct real roots: "
        r"$$x_{1,2} = \frac{@nb \pm @s}{@ta},$$ that is $x_1 = @x1$ and $x_2 = @x2$.",
        r"To check, use Vieta's formulas: the sum of the roots must be $-\frac{b}{a} = @sm$ and "
        r"the product must be $\frac{c}{a} = @pr$. Both hold, and indeed the polynomial "
        r"factors as $$@lhs = @fact.$$ If you divide by a factor like $@fx1$ you silently "
        r"drop the root $x = @x1$, which is the usual way a solution gets lost.",
    )
    intro = _p(
        r"A quadratic equation is an equation of the form $ax^2 + bx + c = 0$ with $a \neq 0$. "
        r"The number of real solutions is decided by the discriminant $\Delta = b^2 - 4ac$: "
        r"if $\Delta > 0$ there are two real roots, if $\Delta = 0$ there is one repeated root, "
        r"and if $\Delta < 0$ there are two complex conjugate roots.",
        r"Completing the square explains the formula. Dividing by $a$ and adding "
        r"$\left(\frac{b}{2a}\right)^2$ to both sides gives "
        r"$$\left(x + \frac{b}{2a}\right)^2 = \frac{b^2 - 4ac}{4a^2},$$ and taking square "
        r"roots of both sides yields $x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}$.",
    )
    rem = _p(r"When $a = 1$ you can often factor by inspection: look for two numbers whose "
             r"product is $c$ and whose sum is $b$. Here that means two numbers with product "
             r"$@pr$ and sum $@mb$, namely $@n1$ and $@n2$.")
    rem = [("p", _fill(rem[0][1], pr=_ftex(Fraction(c, a)), mb=_ftex(Fraction(b, a)),
                       n1=-x1, n2=-x2))]
    return MathDoc("quadratic", rng.choice(["Solving a quadratic equation",
                                            "The quadratic formula in practice",
                                            "Roots of a quadratic by formula and by factoring"]),
                   rng.choice(["How do I solve this quadratic equation?",
                               "Quadratic formula with negative coefficients",
                               "Why did I lose a root of this quadratic?"]),
                   ["algebra-precalculus", "quadratics"], intro,
                   _p(_fill(q, **kw)), [(k, _fill(t, **kw)) for k, t in ans], rem)


def _g_integral(rng: Rng) -> MathDoc:
    p, q, r = rng.randint(1, 6), rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]), rng.randint(-4, 6)
    a = rng.randint(-2, 1)
    b = a + rng.randint(1, 3)

    def big_f(x: int) -> Fraction:
        return Fraction(p, 3) * x**3 + Fraction(q, 2) * x**2 + r * x

    fb, fa = big_f(b), big_f(a)
    val = fb - fa
    kw = dict(f=_poly([p, q, r]), F=_poly([Fraction(p, 3), Fraction(q, 2), r, 0]), a=a, b=b,
              Fb=_ftex(fb), Fa=_ftex(fa), pFa=_par(fa), val=_ftex(val), ba=b - a,
              avg=_ftex(val / (b - a)))
    q_txt = rng.choice([
        r"I am practising for my calculus exam and got stuck on $$\int_{@a}^{@b} \left(@f\right)"
        r"\,dx.$$ I found an antiderivative but my final number does not match the answer key. "
        r"I suspect I am messing up the signs when I plug in the lower limit.",
        r"Evaluate the definite integral $\int_{@a}^{@b} (@f)\,dx$. Please show the steps, I "
        r"want to understand where the fundamental theorem of calculus comes in.",
    ])
    ans = [
        r"Work term by term with the power rule $\int x^n\,dx = \frac{x^{n+1}}{n+1} + C$ for "
        r"$n \neq -1$. An antiderivative of $f(x) = @f$ is $$F(x) = @F.$$",
        r"By the fundamental theorem of calculus the integral equals $F(@b) - F(@a)$. "
        r"Evaluating carefully, $F(@b) = @Fb$ and $F(@a) = @Fa$, so "
        r"$$\int_{@a}^{@b} \left(@f\right)\,dx = @Fb - @pFa = @val.$$",
    ]
    if a < 0:
        ans.append(r"The usual slip is in the second evaluation: the lower limit is negative, "
                   r"so odd powers change sign. Write out $F(@a)$ with parentheses around "
                   r"every occurrence of $@a$ before simplifying and the discrepancy goes away.")
    else:
        ans.append(r"A quick sanity check: the average value of $f$ on $[@a, @b]$ is "
                   r"$\frac{1}{@ba}\int_{@a}^{@b} f(x)\,dx = @avg$, which has to lie between "
                   r"the smallest and the largest value of $f$ on the interval, and it does.")
    intro = _p(
        r"The definite integral $\int_a^b f(x)\,dx$ measures the signed area between the graph "
        r"of $f$ and the $x$-axis over $[a, b]$. If $f$ is continuous on $[a, b]$ and $F$ is "
        r"any antiderivative of $f$, the fundamental theorem of calculus states that "
        r"$$\int_a^b f(x)\,dx = F(b) - F(a).$$",
        r"For polynomials the antiderivative comes from the power rule applied term by term, "
        r"together with linearity: $\int (\alpha f + \beta g)\,dx = \alpha \int f\,dx + "
        r"\beta \int g\,dx$ for constants $\alpha$ and $\beta$.",
    )
    return MathDoc("integral", rng.choice(["Definite integral of a quadratic polynomial",
                                           "Evaluating a definite integral with the power rule",
                                           "Area under a parabola"]),
                   rng.choice(["How do I evaluate this definite integral?",
                               "Definite integral of a polynomial: where is my sign error?",
                               "Checking a definite integral from a practice exam"]),
                   ["calculus", "integration", "definite-integrals"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_derivative(rng: Rng) -> MathDoc:
    if rng.random() < 0.5:
        n, k = rng.randint(2, 5), rng.randint(2, 7)
        sign = "" if k % 2 == 0 else "-"
        kw = dict(n=n, k=k, xn=_xpow(n), xn1=_xpow(n - 1), sign=sign,
                  cn="" if n == 1 else str(n))
        q_txt = (r"Differentiate $f(x) = @xn \sin(@k x)$ and evaluate $f'(\pi)$. I know I need "
                 r"the product rule, but I always forget where the chain rule factor goes.")
        ans = [
            r"The product rule says $(uv)' = u'v + uv'$. Take $u = @xn$ and $v = \sin(@k x)$. "
            r"Then $u' = @cn@xn1$ and, by the chain rule, $v' = @k \cos(@k x)$: the inner "
            r"function $@k x$ has derivative $@k$, and that is where the extra factor comes from.",
            r"Putting it together, $$f'(x) = @cn@xn1 \sin(@k x) + @k @xn \cos(@k x).$$",
            r"At $x = \pi$ we have $\sin(@k\pi) = 0$ and $\cos(@k\pi) = (-1)^{@k}$, so the first "
            r"term vanishes and $$f'(\pi) = @sign@k\pi^@n.$$",
        ]
        kw["cn"] = str(n)
        topic_title = "Product rule with a chain rule inside"
    else:
        p, c, m = rng.randint(1, 5), rng.randint(1, 6), rng.randint(3, 7)
        g1 = 2 * p * m * (p + c) ** (m - 1)
        kw = dict(inner=_poly([p, 0, c]), m=m, m1=m - 1, tp=2 * p, coef=2 * p * m, pc=p + c,
                  g1=_thousands(g1).replace(",", "{,}"), p=p)
        q_txt = (r"What is the derivative of $g(x) = (@inner)^@m$? Do I really have to expand "
                 r"the power? I also need the slope of the tangent line at $x = 1$.")
        ans = [
            r"No expansion needed. Write $g = h \circ u$ with $u(x) = @inner$ and $h(u) = u^@m$. "
            r"The chain rule gives $g'(x) = h'(u(x))\,u'(x)$, where $h'(u) = @m u^@m1$ and "
            r"$u'(x) = @tp x$.",
            r"Therefore $$g'(x) = @m(@inner)^@m1 \cdot @tp x = @coef x (@inner)^@m1.$$",
            r"At $x = 1$ the inner function equals $@pc$, so the slope of the tangent line is "
            r"$g'(1) = @coef \cdot @pc^@m1 = @g1$.",
        ]
        topic_title = "Chain rule for a power of a polynomial"
    intro = _p(
        r"The derivative of $f$ at $a$ is the limit $$f'(a) = \lim_{h \to 0} "
        r"\frac{f(a+h) - f(a)}{h},$$ when it exists. It is the slope of the tangent line to "
        r"the graph at $(a, f(a))$.",
        r"Two rules do most of the work in practice: the product rule $(uv)' = u'v + uv'$ and "
        r"the chain rule $(h \circ u)'(x) = h'(u(x))\,u'(x)$. Combined with the derivatives "
        r"$\frac{d}{dx} x^n = n x^{n-1}$, $\frac{d}{dx}\sin x = \cos x$ and "
        r"$\frac{d}{dx}\cos x = -\sin x$ they handle every elementary function.",
    )
    return MathDoc("derivative", topic_title,
                   rng.choice(["Derivative using the chain rule", "Where does the extra "
                               "factor in the chain rule come from?",
                               "Differentiating without expanding"]),
                   ["calculus", "derivatives"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_limit(rng: Rng) -> MathDoc:
    if rng.random() < 0.6:
        r, s = rng.sample([n for n in range(-6, 7) if n != 0], 2)
        kw = dict(num=_poly([1, -(r + s), r * s]), den=_lin(r), r=r, lim=r - s, fr=_lin(r),
                  fs=_lin(s), d2=_poly([2, -(r + s)]))
        q_txt = (r"Find $$\lim_{x \to @r} \frac{@num}{@den}.$$ Plugging in $x = @r$ gives "
                 r"$\frac{0}{0}$. Does that mean the limit does not exist?")
        ans = [
            r"No: $\frac{0}{0}$ is an indeterminate form, it only tells you that more work is "
            r"needed. Since $x = @r$ is a root of the numerator, $@fr$ is a factor: "
            r"$$@num = (@fr)(@fs).$$",
            r"For $x \neq @r$ we may cancel, and the limit only looks at $x \neq @r$: "
            r"$$\lim_{x \to @r} \frac{(@fr)(@fs)}{@fr} = \lim_{x \to @r} (@fs) = @lim.$$",
            r"L'Hôpital's rule confirms it: the derivative of the numerator is $@d2$, which "
            r"equals $@lim$ at $x = @r$, while the derivative of the denominator is $1$.",
        ]
    else:
        k, m = rng.randint(2, 9), rng.randint(2, 9)
        kw = dict(k=k, m=m, lim=_ftex(Fraction(k, m)))
        q_txt = (r"How do I compute $\lim_{x \to 0} \frac{\sin(@k x)}{@m x}$ without a "
                 r"calculator? Our book only proves $\lim_{x \to 0} \frac{\sin x}{x} = 1$.")
        ans = [
            r"That standard limit is all you need. Substitute $u = @k x$, so $u \to 0$ as "
            r"$x \to 0$, and rewrite $$\frac{\sin(@k x)}{@m x} = \frac{@k}{@m} \cdot "
            r"\frac{\sin(@k x)}{@k x} = \frac{@k}{@m} \cdot \frac{\sin u}{u}.$$",
            r"Hence $$\lim_{x \to 0} \frac{\sin(@k x)}{@m x} = \frac{@k}{@m} \cdot 1 = @lim.$$",
            r"Geometrically, $\sin u \approx u$ for small $u$ (the graph of $\sin$ is tangent to "
            r"the line $y = u$ at the origin), so the quotient behaves like $\frac{@k x}{@m x}$.",
        ]
    intro = _p(
        r"We write $\lim_{x \to a} f(x) = L$ if for every $\varepsilon > 0$ there is a "
        r"$\delta > 0$ such that $0 < |x - a| < \delta$ implies $|f(x) - L| < \varepsilon$. "
        r"The value $f(a)$ itself plays no role; $f$ need not even be defined at $a$.",
        r"When direct substitution produces $\frac{0}{0}$, the usual tools are factoring and "
        r"cancelling, rationalising, known limits such as $\lim_{x \to 0} \frac{\sin x}{x} = 1$, "
        r"or L'Hôpital's rule.",
    )
    return MathDoc("limit", rng.choice(["Evaluating a limit of the form 0/0",
                                        "Indeterminate forms and how to resolve them"]),
                   rng.choice(["Limit gives 0/0, what now?", "Evaluating a limit without "
                               "L'Hôpital", "Is a 0/0 limit undefined?"]),
                   ["calculus", "limits"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_geometric(rng: Rng) -> MathDoc:
    a, qd = rng.randint(2, 9), rng.randint(2, 5)
    ratio = Fraction(rng.choice([1, -1]), qd)
    terms = [a * ratio**i for i in range(4)]
    series = _ftex(terms[0])
    for t in terms[1:]:
        series += (" - " if t < 0 else " + ") + _ftex(abs(t))
    series += r" + \cdots" if ratio > 0 else r" \pm \cdots"
    total = a / (1 - ratio)
    s5 = a * (1 - ratio**5) / (1 - ratio)
    kw = dict(series=series, a=a, r=_ftex(ratio), pr=r"\left(" + _ftex(ratio) + r"\right)",
              total=_ftex(total),
              s5=_ftex(s5), diff=_ftex(abs(total - s5)), absr=_ftex(abs(ratio)))
    q_txt = (r"What is the sum of the infinite series $$@series$$ and how close do the first "
             r"five terms get? I can see the terms shrink but I do not know how to add "
             r"infinitely many of them.")
    ans = _p(
        r"Each term is the previous one multiplied by $@r$, so this is a geometric series with "
        r"first term $a = @a$ and ratio $r = @r$. The partial sums are "
        r"$$S_n = a + ar + \cdots + ar^{n-1} = a\,\frac{1 - r^n}{1 - r},$$ which you can verify "
        r"by computing $S_n - rS_n = a - ar^n$.",
        r"Because $|r| = @absr < 1$, $r^n \to 0$ and the series converges to "
        r"$$\sum_{n=0}^{\infty} @a \cdot @pr^n = \frac{a}{1 - r} = @total.$$",
        r"The first five terms give $S_5 = @a \cdot \frac{1 - @pr^5}{1 - @pr} = @s5$, which "
        r"differs from the limit by $@diff$.",
    )
    intro = _p(
        r"A geometric series has the form $\sum_{n=0}^{\infty} ar^n$. It converges exactly when "
        r"$|r| < 1$, and then its sum is $\frac{a}{1-r}$; for $|r| \geq 1$ the terms do not "
        r"tend to zero, so the series diverges.",
        r"Geometric series appear everywhere: repeating decimals such as "
        r"$0.\overline{3} = \sum_{n=1}^{\infty} 3 \cdot 10^{-n} = \frac{1}{3}$, compound "
        r"interest, and the comparison test for other series.",
    )
    return MathDoc("geometric", "Sum of an infinite geometric series",
                   rng.choice(["How do I add infinitely many terms?",
                               "Sum of a geometric series with a fractional ratio"]),
                   ["sequences-and-series", "calculus"], intro, _p(_fill(q_txt, **kw)),
                   [(k, _fill(t, **kw)) for k, t in ans])


_INDUCTION = [
    ("Sum of the first n odd numbers",
     r"1 + 3 + 5 + \cdots + (2n - 1) = n^2",
     r"For $n = 1$ the left side is $1$ and the right side is $1^2 = 1$.",
     r"Assume $1 + 3 + \cdots + (2n - 1) = n^2$ for some $n \geq 1$. Adding the next odd number "
     r"$2(n+1) - 1 = 2n + 1$ to both sides gives $$1 + 3 + \cdots + (2n-1) + (2n+1) = "
     r"n^2 + 2n + 1 = (n+1)^2,$$ which is the statement for $n + 1$.",
     lambda n: (sum(2 * k - 1 for k in range(1, n + 1)), n * n)),
    ("Sum of the first n squares",
     r"\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}",
     r"For $n = 1$ both sides equal $1$, since $\frac{1 \cdot 2 \cdot 3}{6} = 1$.",
     r"Assume the formula holds for $n$. Then $$\sum_{k=1}^{n+1} k^2 = \frac{n(n+1)(2n+1)}{6} "
     r"+ (n+1)^2 = \frac{(n+1)\left(2n^2 + 7n + 6\right)}{6} = \frac{(n+1)(n+2)(2n+3)}{6},$$ "
     r"which is the formula with $n$ replaced by $n + 1$.",
     lambda n: (sum(k * k for k in range(1, n + 1)), n * (n + 1) * (2 * n + 1) // 6)),
    ("Divisibility of n^3 + 2n by 3",
     r"3 \mid n^3 + 2n \text{ for all } n \geq 1",
     r"For $n = 1$ we get $1 + 2 = 3$, which is divisible by $3$.",
     r"Assume $3 \mid n^3 + 2n$. Expanding, $$(n+1)^3 + 2(n+1) = n^3 + 3n^2 + 3n + 1 + 2n + 2 "
     r"= (n^3 + 2n) + 3(n^2 + n + 1).$$ The first bracket is divisible by $3$ by hypothesis "
     r"and the second is a multiple of $3$, so $3 \mid (n+1)^3 + 2(n+1)$.",
     lambda n: ((n**3 + 2 * n) % 3, 0)),
    ("Bernoulli's inequality",
     r"(1 + x)^n \geq 1 + nx \text{ for } x \geq -1",
     r"For $n = 1$ both sides equal $1 + x$.",
     r"Assume $(1+x)^n \geq 1 + nx$. Since $1 + x \geq 0$ we may multiply both sides by it: "
     r"$$(1+x)^{n+1} \geq (1 + nx)(1 + x) = 1 + (n+1)x + nx^2 \geq 1 + (n+1)x,$$ because "
     r"$nx^2 \geq 0$.",
     lambda n: (3**n, 1 + 2 * n)),
    ("Powers of two beat squares",
     r"2^n > n^2 \text{ for all } n \geq 5",
     r"For $n = 5$ we have $2^5 = 32 > 25 = 5^2$.",
     r"Assume $2^n > n^2$ for some $n \geq 5$. Then $2^{n+1} = 2 \cdot 2^n > 2n^2$, and "
     r"$2n^2 \geq (n+1)^2$ is equivalent to $(n-1)^2 \geq 2$, which is true for $n \geq 3$. "
     r"Hence $2^{n+1} > (n+1)^2$.",
     lambda n: (2**n, n * n)),
]


def _g_induction(rng: Rng) -> MathDoc:
    title, stmt, base, step, check = rng.choice(_INDUCTION)
    n = rng.randint(5, 12)
    lhs, rhs = check(n)
    q_txt = _fill(r"Prove by induction that $$@stmt$$ I checked it numerically (for $n = @n$ the "
                  r"two sides give $@lhs$ and $@rhs$) but I do not see how to write the "
                  r"inductive step properly.", stmt=stmt, n=n, lhs=lhs, rhs=rhs)
    if "mid" in stmt:
        q_txt = _fill(r"Prove by induction that $@stmt$. For example $n = @n$ gives "
                      r"$@v$, which is divisible by $3$, but I want a proof for every $n$.",
                      stmt=stmt, n=n, v=n**3 + 2 * n)
    elif "Bernoulli" in title:
        q_txt = _fill(r"Prove by induction on $n$ that $$@stmt$$ and every integer $n \geq 1$. "
                      r"With $x = 2$ and $n = @n$ this says $@lhs \geq @rhs$, which is clearly "
                      r"true, but how does the induction go?", stmt=stmt, n=n, lhs=lhs, rhs=rhs)
    ans = [
        ("p", r"A proof by induction has two parts: a base case and an inductive step."),
        ("p", r"**Base case.** " + base),
        ("p", r"**Inductive step.** " + step),
        ("p", r"By the principle of mathematical induction the statement holds for every "
              r"admissible $n$. $\blacksquare$"),
    ]
    ans = [(k, t.replace("**", "")) for k, t in ans]
    intro = _p(
        r"The principle of mathematical induction: if $P(n_0)$ is true, and $P(n)$ implies "
        r"$P(n+1)$ for every $n \geq n_0$, then $P(n)$ is true for every integer $n \geq n_0$. "
        r"It follows from the well-ordering of the natural numbers: a smallest counterexample "
        r"cannot exist.",
    )
    return MathDoc("induction", "Proof by induction: " + title.lower(),
                   rng.choice(["How do I write the inductive step?",
                               "Induction proof: " + title.lower(),
                               "Stuck on an induction exercise"]),
                   ["induction", "proof-writing", "elementary-number-theory"], intro,
                   _p(q_txt), ans)


def _lincomb(terms: list[tuple[int, str]]) -> str:
    out = ""
    for c, v in terms:
        if c == 0:
            continue
        mag = "" if abs(c) == 1 else str(abs(c))
        if not out:
            out = ("-" if c < 0 else "") + mag + v
        else:
            out += (" - " if c < 0 else " + ") + mag + v
    return out


def _g_linsys(rng: Rng) -> MathDoc:
    while True:
        x0, y0 = rng.randint(-6, 6), rng.randint(-6, 6)
        a1, b1, a2, b2 = (rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]) for _ in range(4))
        det = a1 * b2 - a2 * b1
        if det != 0:
            break
    c1, c2 = a1 * x0 + b1 * y0, a2 * x0 + b2 * y0
    dx, dy = c1 * b2 - c2 * b1, a1 * c2 - a2 * c1
    kw = dict(e1=_lincomb([(a1, "x"), (b1, "y")]) + f" = {c1}",
              e2=_lincomb([(a2, "x"), (b2, "y")]) + f" = {c2}",
              a1=a1, b1=b1, a2=a2, b2=b2, c1=c1, c2=c2, det=det, dx=dx, dy=dy, x0=x0, y0=y0,
              px=_par(x0), py=_par(y0), pb1=_par(b1), pb2=_par(b2), pa2=_par(a2), pc2=_par(c2))
    q_txt = (r"Solve the system $$\begin{cases} @e1 \\ @e2 \end{cases}$$ using Cramer's rule. "
             r"I know the formula involves determinants but I mix up which column gets replaced.")
    ans = [
        r"Write the system as $A\mathbf{v} = \mathbf{c}$ with $$A = \begin{pmatrix} @a1 & @b1 "
        r"\\ @a2 & @b2 \end{pmatrix}, \qquad \mathbf{c} = \begin{pmatrix} @c1 \\ @c2 "
        r"\end{pmatrix}.$$ First $\det A = @a1 \cdot @pb2 - @pa2 \cdot @pb1 = @det \neq 0$, so "
        r"there is exactly one solution.",
        r"For $x$, replace the first column (the $x$-coefficients) by $\mathbf{c}$; for $y$, "
        r"replace the second column: $$x = \frac{1}{@det}\begin{vmatrix} @c1 & @b1 \\ @c2 & @b2 "
        r"\end{vmatrix} = \frac{@dx}{@det} = @x0, \qquad y = \frac{1}{@det}\begin{vmatrix} @a1 "
        r"& @c1 \\ @a2 & @c2 \end{vmatrix} = \frac{@dy}{@det} = @y0.$$",
        r"Check in the first equation: $@a1 \cdot @px + @pb1 \cdot @py = @c1$. It is always "
        r"worth substituting back, since a sign error in one determinant is easy to make.",
    ]
    intro = _p(
        r"Cramer's rule: if $A$ is an $n \times n$ matrix with $\det A \neq 0$, the system "
        r"$A\mathbf{x} = \mathbf{b}$ has the unique solution $x_i = \frac{\det A_i}{\det A}$, "
        r"where $A_i$ is $A$ with its $i$-th column replaced by $\mathbf{b}$.",
        r"For a $2 \times 2$ matrix, $\det \begin{pmatrix} a & b \\ c & d \end{pmatrix} = "
        r"ad - bc$. Cramer's rule is convenient for small systems; for large ones Gaussian "
        r"elimination is far cheaper.",
    )
    return MathDoc("linsys", "Solving a 2 by 2 linear system with Cramer's rule",
                   rng.choice(["Which column do I replace in Cramer's rule?",
                               "Solving a system of two equations with determinants"]),
                   ["linear-algebra", "systems-of-equations"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_eigen(rng: Rng) -> MathDoc:
    m, d = rng.randint(-3, 6), rng.randint(1, 5)
    l1, l2 = m + d, m - d
    kw = dict(m=m, d=d, l1=l1, l2=l2, pl1=_par(l1), tr=2 * m, det=m * m - d * d,
              cp=_poly([1, -2 * m, m * m - d * d], r"\lambda"),
              f1=_lin(l1, r"\lambda"), f2=_lin(l2, r"\lambda"), pd=_par(d),
              mm1=(f"{m} - " if m else "-") + r"\lambda")
    q_txt = (r"Find the eigenvalues and eigenvectors of $$A = \begin{pmatrix} @m & @d \\ @d & @m "
             r"\end{pmatrix}.$$ Is $A$ diagonalizable?")
    ans = [
        r"The characteristic polynomial is $$\det(A - \lambda I) = (@mm1)^2 - @d^2 = @cp = "
        r"(@f1)(@f2),$$ so the eigenvalues are $\lambda_1 = @l1$ and $\lambda_2 = @l2$. As a "
        r"check, $\lambda_1 + \lambda_2 = @tr = \operatorname{tr} A$ and "
        r"$\lambda_1 \lambda_2 = @det = \det A$.",
        r"For $\lambda_1 = @l1$, the matrix $A - @pl1 I$ has both rows proportional to "
        r"$(-1, 1)$, so the eigenvectors are the nonzero multiples of $(1, 1)^T$. For "
        r"$\lambda_2 = @l2$ we get the multiples of $(1, -1)^T$.",
        r"Two distinct eigenvalues give two independent eigenvectors, so $A$ is diagonalizable: "
        r"$$A = P D P^{-1}, \quad P = \begin{pmatrix} 1 & 1 \\ 1 & -1 \end{pmatrix}, \quad "
        r"D = \begin{pmatrix} @l1 & 0 \\ 0 & @l2 \end{pmatrix}.$$ In fact $A$ is symmetric, "
        r"so by the spectral theorem it is even orthogonally diagonalizable.",
    ]
    intro = _p(
        r"A scalar $\lambda$ is an eigenvalue of a square matrix $A$ if $A\mathbf{v} = \lambda "
        r"\mathbf{v}$ for some nonzero vector $\mathbf{v}$, called an eigenvector. Equivalently, "
        r"$\det(A - \lambda I) = 0$, so the eigenvalues are the roots of the characteristic "
        r"polynomial.",
        r"For a $2 \times 2$ matrix the characteristic polynomial is "
        r"$\lambda^2 - (\operatorname{tr} A)\lambda + \det A$, which gives a quick check on "
        r"any computation: the eigenvalues sum to the trace and multiply to the determinant.",
    )
    return MathDoc("eigen", "Eigenvalues of a symmetric 2 by 2 matrix",
                   rng.choice(["Eigenvalues and eigenvectors of a 2x2 matrix",
                               "Is this symmetric matrix diagonalizable?"]),
                   ["linear-algebra", "eigenvalues-eigenvectors"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


_TRIALS = [
    ("toss a fair coin", "heads", Fraction(1, 2)),
    ("roll a fair six-sided die", "sixes", Fraction(1, 6)),
    ("spin a spinner with three equal sectors, one of them red,", "reds", Fraction(1, 3)),
    ("let a player who makes 70% of her free throws shoot", "made shots", Fraction(7, 10)),
]


def _g_binomial(rng: Rng) -> MathDoc:
    what, succ, p = rng.choice(_TRIALS)
    n = rng.randint(5, 10)
    k = rng.randint(1, n - 1)
    prob = comb(n, k) * p**k * (1 - p) ** (n - k)
    none = (1 - p) ** n
    kw = dict(what=what, succ=succ, n=n, k=k, nk=n - k, p=_ftex(p), q=_ftex(1 - p),
              c=comb(n, k), prob=_ftex(prob), dec=_dec(float(prob)),
              atl=_dec(float(1 - none)), mean=_ftex(n * p), var=_ftex(n * p * (1 - p)))
    q_txt = (r"If you @what $@n$ times, what is the probability of getting exactly $@k$ @succ? "
             r"And what is the probability of getting at least one?")
    ans = [
        r"The trials are independent with success probability $p = @p$, so the number $X$ of "
        r"@succ has a binomial distribution: $$P(X = k) = \binom{n}{k} p^k (1 - p)^{n - k}.$$",
        r"Here $$P(X = @k) = \binom{@n}{@k} \left(@p\right)^{@k} \left(@q\right)^{@nk} = @c "
        r"\cdot \left(@p\right)^{@k} \left(@q\right)^{@nk} = @prob \approx @dec.$$",
        r"For at least one success use the complement: $P(X \geq 1) = 1 - P(X = 0) = "
        r"1 - \left(@q\right)^{@n} \approx @atl$. As a side remark, $E[X] = np = @mean$ and "
        r"$\operatorname{Var}(X) = np(1-p) = @var$.",
    ]
    intro = _p(
        r"A binomial random variable counts successes in $n$ independent trials with the same "
        r"success probability $p$. The coefficient $\binom{n}{k} = \frac{n!}{k!(n-k)!}$ counts "
        r"the positions of the $k$ successes, and each such arrangement has probability "
        r"$p^k (1-p)^{n-k}$.",
    )
    return MathDoc("binomial", "Binomial probabilities with a worked example",
                   rng.choice(["Probability of exactly k successes", "Binomial distribution "
                               "question", "How many ways, and what probability?"]),
                   ["probability", "binomial-distribution"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _ext_gcd(a: int, b: int) -> tuple[int, int, int]:
    if b == 0:
        return a, 1, 0
    g, x, y = _ext_gcd(b, a % b)
    return g, y, x - (a // b) * y


def _g_euclid(rng: Rng) -> MathDoc:
    while True:
        g, m = rng.randint(2, 30), rng.randint(10, 60)
        n = rng.randint(5, m - 1)
        if gcd(m, n) == 1:
            break
    a, b = g * m, g * n
    lines, x, y = [], a, b
    while y:
        q, r = divmod(x, y)
        lines.append(f"{x} &= {q} \\cdot {y} + {r}")
        x, y = y, r
    _, s, t = _ext_gcd(a, b)
    kw = dict(a=a, b=b, g=g, steps=r" \\ ".join(lines), s=_par(s), t=_par(t),
              lcm=a * b // g, nsteps=len(lines))
    q_txt = (r"Use the Euclidean algorithm to find $\gcd(@a, @b)$, and then find integers $s$ "
             r"and $t$ with $@a s + @b t = \gcd(@a, @b)$.")
    ans = [
        r"Divide repeatedly, each time replacing the pair by (divisor, remainder): "
        r"$$\begin{aligned} @steps \end{aligned}$$",
        r"The last nonzero remainder is the gcd, so $\gcd(@a, @b) = @g$. This took @nsteps "
        r"divisions; the remainders shrink at least by half every two steps, so the algorithm "
        r"is fast even for huge numbers.",
        r"Running the equations backwards (the extended Euclidean algorithm) expresses the gcd "
        r"as a combination: $$@g = @a \cdot @s + @b \cdot @t.$$ As a bonus, "
        r"$\operatorname{lcm}(@a, @b) = \frac{@a \cdot @b}{@g} = @lcm$.",
    ]
    intro = _p(
        r"The Euclidean algorithm rests on one identity: if $a = qb + r$ then "
        r"$\gcd(a, b) = \gcd(b, r)$, because any common divisor of $a$ and $b$ divides "
        r"$r = a - qb$, and conversely.",
        r"Bézout's identity states that for integers $a, b$ not both zero there are integers "
        r"$s, t$ with $as + bt = \gcd(a, b)$; moreover $\gcd(a, b)$ is the smallest positive "
        r"integer of this form.",
    )
    return MathDoc("euclid", "The Euclidean algorithm and Bézout coefficients",
                   rng.choice(["Extended Euclidean algorithm example", "Finding gcd and "
                               "Bezout coefficients by hand"]),
                   ["elementary-number-theory", "gcd-and-lcm"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_taylor(rng: Rng) -> MathDoc:
    t, n = rng.randint(1, 5), rng.randint(3, 5)
    x = t / 10
    approx = sum(x**k / factorial(k) for k in range(n + 1))
    bound = 2 * x ** (n + 1) / factorial(n + 1)
    terms = " + ".join(["1", "x"] + [rf"\frac{{x^{k}}}{{{factorial(k)}}}" for k in range(2, n + 1)])
    kw = dict(x=f"{x:.1f}", n=n, n1=n + 1, terms=terms, approx=_dec(approx, 6),
              true=_dec(exp(x), 6), bound=f"{bound:.2e}".replace("e-0", r" \times 10^{-") + "}",
              fact=factorial(n + 1))
    q_txt = (r"Use the Taylor polynomial of degree $@n$ of $e^x$ at $0$ to approximate "
             r"$e^{@x}$, and give an upper bound for the error.")
    ans = [
        r"All derivatives of $e^x$ equal $e^x$, which is $1$ at $0$, so the Maclaurin polynomial "
        r"of degree $@n$ is $$P_@n(x) = @terms.$$ Plugging in $x = @x$ gives "
        r"$P_@n(@x) = @approx$.",
        r"By Taylor's theorem with the Lagrange remainder, $e^{@x} - P_@n(@x) = "
        r"\frac{e^{c}}{@n1!}(@x)^{@n1}$ for some $c$ between $0$ and $@x$. Since "
        r"$e^c < e^{0.5} < 2$, $$0 < e^{@x} - P_@n(@x) < \frac{2 \cdot (@x)^{@n1}}{@fact} "
        r"\approx @bound.$$",
        r"For comparison, a calculator gives $e^{@x} = @true$, comfortably within the bound.",
    ]
    intro = _p(
        r"If $f$ has $n+1$ continuous derivatives near $a$, Taylor's theorem gives "
        r"$$f(x) = \sum_{k=0}^{n} \frac{f^{(k)}(a)}{k!}(x-a)^k + R_n(x), \qquad "
        r"R_n(x) = \frac{f^{(n+1)}(c)}{(n+1)!}(x - a)^{n+1}$$ for some $c$ between $a$ and $x$.",
        r"For the exponential function the series converges for every real $x$: "
        r"$e^x = \sum_{k=0}^{\infty} \frac{x^k}{k!}$.",
    )
    return MathDoc("taylor", "Approximating the exponential with a Taylor polynomial",
                   rng.choice(["Error bound for a Taylor approximation of e^x",
                               "How accurate is the Taylor polynomial here?"]),
                   ["calculus", "taylor-expansion", "approximation"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_arith(rng: Rng) -> MathDoc:
    a1, d, n = rng.randint(12, 30), rng.randint(2, 4), rng.randint(15, 35)
    an = a1 + (n - 1) * d
    total = n * (a1 + an) // 2 if (n * (a1 + an)) % 2 == 0 else None
    if total is None:
        n += 1
        an = a1 + (n - 1) * d
        total = n * (a1 + an) // 2
    kw = dict(a1=a1, d=d, n=n, n1=n - 1, an=an, tot=_thousands(total).replace(",", "{,}"),
              s=a1 + an, totplain=_thousands(total))
    q_txt = (r"A theatre has @n rows of seats. The first row has @a1 seats and every row has "
             r"@d more seats than the row in front of it. How many seats are in the last row, "
             r"and how many seats does the theatre have in total?")
    ans = [
        r"The row sizes form an arithmetic sequence with first term $a_1 = @a1$ and common "
        r"difference $d = @d$. Its $n$-th term is $a_n = a_1 + (n-1)d$, so the last row has "
        r"$$a_{@n} = @a1 + @n1 \cdot @d = @an$$ seats.",
        r"For the total use Gauss's trick: write the sum forwards and backwards and add, so "
        r"each of the $n$ pairs sums to $a_1 + a_n$. Hence "
        r"$$S_n = \frac{n(a_1 + a_n)}{2} = \frac{@n \cdot (@a1 + @an)}{2} = "
        r"\frac{@n \cdot @s}{2} = @tot.$$ The theatre has @totplain seats.",
    ]
    intro = _p(
        r"An arithmetic sequence has a constant difference $d$ between consecutive terms, so "
        r"$a_n = a_1 + (n-1)d$. The sum of its first $n$ terms is "
        r"$S_n = \frac{n}{2}(a_1 + a_n) = \frac{n}{2}\left(2a_1 + (n-1)d\right)$.",
        r"The young Gauss is said to have summed $1 + 2 + \cdots + 100$ by pairing $1$ with "
        r"$100$, $2$ with $99$, and so on: $50$ pairs of $101$ give $5050$.",
    )
    return MathDoc("arith", "Arithmetic sequences: seats in a theatre",
                   rng.choice(["Arithmetic sequence word problem", "Sum of an arithmetic "
                               "progression, seats problem"]),
                   ["sequences-and-series", "algebra-precalculus"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_cosines(rng: Rng) -> MathDoc:
    a, b = rng.randint(3, 12), rng.randint(3, 12)
    ang = rng.choice([60, 120])
    c2 = a * a + b * b + (-a * b if ang == 60 else a * b)
    area = Fraction(a * b, 4)
    kw = dict(a=a, b=b, ang=ang, c2=c2, c=_sqrt_tex(c2), ab=a * b, aa=a * a, bb=b * b,
              cos=r"\frac{1}{2}" if ang == 60 else r"-\frac{1}{2}",
              sgn="-" if ang == 60 else "+", cdec=_dec(sqrt(c2), 2),
              area=_ftex(area) + r"\sqrt{3}", adec=_dec(float(area) * sqrt(3), 2))
    q_txt = (r"Two hikers leave a camp along straight trails that make an angle of @ang° with "
             r"each other. One walks @a km and the other @b km. How far apart are they, and "
             r"what is the area of the triangle formed by the camp and the two hikers?")
    ans = [
        r"Let $C$ be the angle at the camp, so $C = @ang^\circ$ and the sides next to it are "
        r"$a = @a$ and $b = @b$. The law of cosines gives $$c^2 = a^2 + b^2 - 2ab\cos C = "
        r"@aa + @bb - 2 \cdot @ab \cdot \left(@cos\right) = @c2,$$ so "
        r"$c = @c \approx @cdec$ km.",
        r"For the area use $\frac{1}{2}ab\sin C$ with $\sin @ang^\circ = \frac{\sqrt{3}}{2}$: "
        r"$$\text{Area} = \frac{1}{2} \cdot @a \cdot @b \cdot \frac{\sqrt{3}}{2} = @area "
        r"\approx @adec \text{ km}^2.$$",
    ]
    intro = _p(
        r"In a triangle with sides $a, b, c$ and angle $C$ opposite $c$, the law of cosines "
        r"states $c^2 = a^2 + b^2 - 2ab\cos C$. For $C = 90^\circ$ it reduces to the "
        r"Pythagorean theorem, since $\cos 90^\circ = 0$.",
        r"It follows from placing $C$ at the origin with $a$ along the $x$-axis: the third "
        r"vertex is $(b\cos C, b\sin C)$, and the squared distance to $(a, 0)$ is "
        r"$(a - b\cos C)^2 + b^2\sin^2 C = a^2 + b^2 - 2ab\cos C$.",
    )
    return MathDoc("cosines", "The law of cosines in a word problem",
                   rng.choice(["Law of cosines: distance between two hikers",
                               "Triangle with a 60 or 120 degree angle"]),
                   ["trigonometry", "geometry"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _cplx(re_: Fraction | int, im: Fraction | int) -> str:
    re_, im = Fraction(re_), Fraction(im)
    if im == 0:
        return _ftex(re_)
    mag = "" if abs(im) == 1 else _ftex(abs(im))
    if re_ == 0:
        return ("-" if im < 0 else "") + mag + "i"
    return _ftex(re_) + (" - " if im < 0 else " + ") + mag + "i"


def _g_complex(rng: Rng) -> MathDoc:
    nz = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]
    a, b, c, d = (rng.choice(nz) for _ in range(4))
    den = c * c + d * d
    kw = dict(z=_cplx(a, b), w=_cplx(c, d), wb=_cplx(c, -d), prod=_cplx(a * c - b * d, a * d + b * c),
              quot=_cplx(Fraction(a * c + b * d, den), Fraction(b * c - a * d, den)),
              num=_cplx(a * c + b * d, b * c - a * d), den=den, mod=_sqrt_eq(a * a + b * b),
              m2=a * a + b * b, pa=_par(a), pb=_par(b), pc=_par(c), pd=_par(d))
    q_txt = (r"Let $z = @z$ and $w = @w$. Compute $zw$, $\frac{z}{w}$ and $|z|$. How do I get "
             r"rid of the $i$ in the denominator?")
    ans = [
        r"Multiply out using $i^2 = -1$: $$zw = (@z)(@w) = @prod.$$",
        r"For the quotient multiply numerator and denominator by the conjugate "
        r"$\overline{w} = @wb$; then the denominator becomes the real number "
        r"$w\overline{w} = |w|^2 = @pc^2 + @pd^2 = @den$: $$\frac{z}{w} = "
        r"\frac{(@z)(@wb)}{@den} = \frac{@num}{@den} = @quot.$$",
        r"Finally $|z| = \sqrt{@pa^2 + @pb^2} = @mod$.",
    ]
    intro = _p(
        r"Complex numbers $a + bi$ are added componentwise and multiplied using $i^2 = -1$. "
        r"The conjugate of $z = a + bi$ is $\overline{z} = a - bi$, and "
        r"$z\overline{z} = a^2 + b^2 = |z|^2$ is real and nonnegative, which is exactly what "
        r"makes division possible: $\frac{1}{z} = \frac{\overline{z}}{|z|^2}$ for $z \neq 0$.",
    )
    return MathDoc("complex", "Arithmetic with complex numbers",
                   rng.choice(["Dividing complex numbers", "How to compute z/w for complex "
                               "numbers"]),
                   ["complex-numbers"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_logeq(rng: Rng) -> MathDoc:
    base = rng.choice([2, 2, 3])
    m = rng.randint(3, 7) if base == 2 else rng.randint(2, 4)
    s = rng.randint(m // 2 + 1, m)
    x0, other = base**s, base ** (m - s)
    k = x0 - other
    kw = dict(B=base, m=m, k=k, P=base**m, x0=x0, o=other, quad=_poly([1, -k, -(base**m)]),
              f1=_lin(x0), f2=_lin(-other))
    q_txt = (r"Solve $\log_@B x + \log_@B (x - @k) = @m$. I get two solutions from the "
             r"quadratic, but my teacher says one of them is not allowed. Why?")
    ans = [
        r"First the domain: both logarithms need positive arguments, so $x > 0$ and "
        r"$x - @k > 0$, that is $x > @k$.",
        r"On that domain, $\log_@B x + \log_@B(x - @k) = \log_@B\bigl(x(x - @k)\bigr)$, so the "
        r"equation says $x(x - @k) = @B^@m = @P$, i.e. $$@quot = (@f1)(@f2) = 0.$$",
        r"The roots are $x = @x0$ and $x = -@o$. Only $x = @x0$ satisfies $x > @k$; the other "
        r"root was introduced when we combined the logarithms, because $\log_@B(x(x-@k))$ is "
        r"defined for more values of $x$ than the original expression. So the only solution "
        r"is $x = @x0$. Check: $\log_@B @x0 + \log_@B @o = @s + @ms = @m$.",
    ]
    kw.update(quot=kw["quad"], s=s, ms=m - s)
    intro = _p(
        r"The logarithm $\log_b x$ (for $b > 0$, $b \neq 1$) is the exponent $y$ with $b^y = x$; "
        r"it is only defined for $x > 0$. The product rule $\log_b(xy) = \log_b x + \log_b y$ "
        r"holds for $x, y > 0$.",
        r"When solving equations, applying the product rule can enlarge the domain, so every "
        r"candidate solution has to be checked against the original equation.",
    )
    return MathDoc("logeq", "Logarithmic equations and extraneous roots",
                   rng.choice(["Why is one solution of my log equation rejected?",
                               "Extraneous root in a logarithmic equation"]),
                   ["logarithms", "algebra-precalculus"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_decay(rng: Rng) -> MathDoc:
    half = rng.choice([5, 8, 12, 30])
    m0 = rng.randrange(40, 210, 10)
    j = rng.randint(2, 4)
    t2 = half * j + rng.randint(1, half - 1)
    kw = dict(T=half, m0=m0, t1=half * j, j=j, m1=_ftex(Fraction(m0, 2**j)),
              t2=t2, m2=_dec(m0 * 2 ** (-t2 / half), 2), k=_dec(log(2) / half, 4),
              t10=_dec(half * log(10) / log(2), 1), pj=2**j)
    q_txt = (r"A radioactive sample has a half-life of @T years and initially contains @m0 "
             r"grams. How much is left after @t1 years and after @t2 years? When is only 10% "
             r"left?")
    ans = [
        r"Decay at a rate proportional to the amount means $m'(t) = -k\,m(t)$, whose solution is "
        r"$m(t) = m_0 e^{-kt}$. The half-life $T$ satisfies $e^{-kT} = \frac{1}{2}$, so "
        r"$k = \frac{\ln 2}{T} = \frac{\ln 2}{@T} \approx @k$ per year, and "
        r"$$m(t) = @m0 \cdot 2^{-t/@T}.$$",
        r"After $@t1 = @j \cdot @T$ years, @j half-lives have passed: "
        r"$m(@t1) = \frac{@m0}{@pj} = @m1$ grams. After @t2 years, "
        r"$m(@t2) = @m0 \cdot 2^{-@t2/@T} \approx @m2$ grams.",
        r"For 10% we need $2^{-t/@T} = \frac{1}{10}$, so "
        r"$t = @T \log_2 10 = \frac{@T \ln 10}{\ln 2} \approx @t10$ years.",
    ]
    intro = _p(
        r"The differential equation $y' = ky$ has the general solution $y(t) = y_0 e^{kt}$, "
        r"where $y_0 = y(0)$. For $k > 0$ this is exponential growth with doubling time "
        r"$\frac{\ln 2}{k}$; for $k < 0$ it is exponential decay with half-life "
        r"$\frac{\ln 2}{|k|}$.",
    )
    return MathDoc("decay", "Exponential decay and half-life",
                   rng.choice(["Half-life problem with an exponential model",
                               "Radioactive decay: how much is left?"]),
                   ["ordinary-differential-equations", "exponential-function"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


_WORDS: list[str] = data_text("words.txt").split()


def _g_combinatorics(rng: Rng) -> MathDoc:
    if rng.random() < 0.5:
        n, k = rng.randint(8, 15), rng.randint(3, 5)
        kw = dict(n=n, k=k, n1=n - 1, k1=k - 1, tot=_thousands(comb(n, k)),
                  with_=_thousands(comb(n - 1, k - 1)), chair=_thousands(k * comb(n, k)))
        kw = {key: str(v).replace(",", "{,}") for key, v in kw.items()}
        q_txt = (r"A club has @n members. In how many ways can a committee of @k be chosen? "
                 r"How many of these committees include the club president, and in how many "
                 r"ways can we choose a committee of @k together with its chair?")
        ans = [
            r"Order does not matter, so the number of committees is "
            r"$$\binom{@n}{@k} = \frac{@n!}{@k!\,(@n - @k)!} = @tot.$$",
            r"If the president is on the committee, we only choose the remaining @k1 members "
            r"from the other @n1 people: $\binom{@n1}{@k1} = @with_$.",
            r"For a committee with a chair, first choose the committee and then one of its @k "
            r"members as chair: $@k \binom{@n}{@k} = @chair$. Choosing the chair first gives "
            r"$@n \binom{@n1}{@k1}$, the same number, which is a nice double-counting identity.",
        ]
        title = "Counting committees with binomial coefficients"
    else:
        word = rng.choice(_WORDS)
        counts: dict[str, int] = {}
        for ch in word:
            counts[ch] = counts.get(ch, 0) + 1
        reps = [(ch, c) for ch, c in counts.items() if c > 1]
        denom = 1
        for _, c in reps:
            denom *= factorial(c)
        total = factorial(len(word)) // denom
        kw = dict(word=word, L=len(word), den=r" \, ".join(f"{c}!" for _, c in reps),
                  reps=", ".join(f"{ch} appears {c} times" for ch, c in reps),
                  tot=_thousands(total).replace(",", "{,}"), totp=_thousands(total))
        q_txt = (r"How many different arrangements of the letters of the word @word are "
                 r"there? I got $@L!$ but that seems too big.")
        ans = [
            r"$@L!$ counts arrangements of @L distinguishable tiles. But in @word, @reps. "
            r"Swapping identical letters does not produce a new word, so every word was "
            r"counted once for each way of permuting the repeated letters among themselves.",
            r"Dividing out those overcounts gives the multinomial coefficient "
            r"$$\frac{@L!}{@den} = @tot.$$ So there are @totp distinct arrangements.",
        ]
        title = "Arrangements of a word with repeated letters"
    intro = _p(
        r"The number of ways to choose $k$ objects from $n$ without regard to order is "
        r"$\binom{n}{k} = \frac{n!}{k!(n-k)!}$. Arrangements of $n$ objects in which there are "
        r"$n_1, n_2, \ldots, n_r$ identical copies of each kind number "
        r"$\frac{n!}{n_1!\,n_2!\cdots n_r!}$.",
    )
    return MathDoc("combinatorics", title,
                   rng.choice(["Counting problem: did I overcount?", "Combinatorics: how "
                               "many ways?"]),
                   ["combinatorics"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_amgm(rng: Rng) -> MathDoc:
    side = rng.randint(4, 20)
    area = side * side
    kw = dict(A=area, s=side, P=4 * side)
    q_txt = (r"A farmer wants to fence a rectangular pen with area $@A\text{ m}^2$. What "
             r"dimensions minimise the length of the fence? I would like a solution without "
             r"derivatives if possible.")
    ans = [
        r"If the sides are $x$ and $y$ with $xy = @A$, the fence has length $2(x + y)$. By the "
        r"AM-GM inequality, $$\frac{x + y}{2} \geq \sqrt{xy} = \sqrt{@A} = @s,$$ so "
        r"$2(x + y) \geq @P$.",
        r"Equality in AM-GM holds exactly when $x = y$, so the minimum @P m of fence is "
        r"attained by the square pen with $x = y = @s$ m.",
        r"The inequality itself is one line: for $x, y \geq 0$, "
        r"$0 \leq (\sqrt{x} - \sqrt{y})^2 = x + y - 2\sqrt{xy}$. With calculus you get the same "
        r"answer from $P(x) = 2\left(x + \frac{@A}{x}\right)$: $P'(x) = 2 - \frac{2 \cdot @A}{x^2} "
        r"= 0$ gives $x = @s$.",
    ]
    intro = _p(
        r"The inequality of arithmetic and geometric means: for nonnegative reals "
        r"$x_1, \ldots, x_n$, $$\frac{x_1 + \cdots + x_n}{n} \geq \sqrt[n]{x_1 \cdots x_n},$$ with "
        r"equality if and only if all the $x_i$ are equal.",
    )
    return MathDoc("amgm", "Optimisation with the AM-GM inequality",
                   rng.choice(["Minimising a fence without calculus", "AM-GM optimisation "
                               "problem"]),
                   ["inequality", "optimization"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_vectors(rng: Rng) -> MathDoc:
    while True:
        u = [rng.randint(-4, 5) for _ in range(3)]
        v = [rng.randint(-4, 5) for _ in range(3)]
        cr = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
        if any(u) and any(v) and any(cr):
            break
    dot = sum(a * b for a, b in zip(u, v, strict=True))
    nu, nv = sum(a * a for a in u), sum(b * b for b in v)
    ang = _dec(degrees(acos(dot / sqrt(nu * nv))), 1)
    kw = dict(u=", ".join(map(str, u)), v=", ".join(map(str, v)), dot=dot, nu=nu, nv=nv,
              su=_sqrt_eq(nu), sv=_sqrt_eq(nv), ang=ang, cr=", ".join(map(str, cr)),
              prods=" + ".join(f"{_par(a)} \\cdot {_par(b)}" for a, b in zip(u, v, strict=True)))
    q_txt = (r"Given $\mathbf{u} = (@u)$ and $\mathbf{v} = (@v)$, find the angle between them "
             r"and a vector perpendicular to both.")
    ans = [
        r"The dot product is $\mathbf{u} \cdot \mathbf{v} = @prods = @dot$, and "
        r"$\|\mathbf{u}\| = @su$, $\|\mathbf{v}\| = @sv$.",
        r"Hence $$\cos\theta = \frac{\mathbf{u} \cdot \mathbf{v}}{\|\mathbf{u}\|\,"
        r"\|\mathbf{v}\|} = \frac{@dot}{\sqrt{@nu}\sqrt{@nv}},$$ which gives "
        r"$\theta \approx @ang^\circ$.",
        r"A vector perpendicular to both is the cross product $$\mathbf{u} \times \mathbf{v} = "
        r"(@cr).$$ You can confirm that its dot product with $\mathbf{u}$ and with "
        r"$\mathbf{v}$ is zero.",
    ]
    intro = _p(
        r"For vectors in $\mathbb{R}^n$, $\mathbf{u} \cdot \mathbf{v} = \sum_i u_i v_i = "
        r"\|\mathbf{u}\|\,\|\mathbf{v}\|\cos\theta$, where $\theta$ is the angle between them. "
        r"In particular $\mathbf{u} \perp \mathbf{v}$ if and only if "
        r"$\mathbf{u} \cdot \mathbf{v} = 0$.",
        r"In $\mathbb{R}^3$ the cross product $\mathbf{u} \times \mathbf{v}$ is orthogonal to "
        r"both factors and its length $\|\mathbf{u}\|\,\|\mathbf{v}\|\sin\theta$ is the area "
        r"of the parallelogram they span.",
    )
    return MathDoc("vectors", "Angles between vectors and the cross product",
                   rng.choice(["Angle between two vectors in R^3", "Dot and cross product "
                               "example"]),
                   ["linear-algebra", "vectors"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_byparts(rng: Rng) -> MathDoc:
    if rng.random() < 0.5:
        a = rng.randint(2, 5)
        val = ((a - 1) * exp(a) + 1) / (a * a)
        kw = dict(a=a, a2=a * a, am1="" if a == 2 else a - 1, val=_dec(val, 4))
        q_txt = r"Compute $\int_0^1 x e^{@a x}\,dx$. Which part should I differentiate?"
        ans = [
            r"Use integration by parts, $\int u\,dv = uv - \int v\,du$, with $u = x$ (it gets "
            r"simpler when differentiated) and $dv = e^{@a x}\,dx$, so $du = dx$ and "
            r"$v = \frac{1}{@a}e^{@a x}$.",
            r"Then $$\int_0^1 x e^{@a x}\,dx = \left[\frac{x}{@a}e^{@a x}\right]_0^1 - "
            r"\frac{1}{@a}\int_0^1 e^{@a x}\,dx = \frac{e^{@a}}{@a} - \frac{e^{@a} - 1}{@a2} = "
            r"\frac{@am1 e^{@a} + 1}{@a2} \approx @val.$$",
        ]
    else:
        n = rng.randint(1, 4)
        val = (n * exp(n + 1) + 1) / (n + 1) ** 2
        kw = dict(n="" if n == 1 else n, n1=n + 1, n12=(n + 1) ** 2, xn=_xpow(n), xn1=_xpow(n + 1),
                  val=_dec(val, 4))
        q_txt = r"How do I integrate $\int_1^e @xn \ln x\,dx$? Substitution does not seem to work."
        ans = [
            r"Integrate by parts with $u = \ln x$ and $dv = @xn\,dx$, so $du = \frac{dx}{x}$ and "
            r"$v = \frac{@xn1}{@n1}$. The logarithm disappears after differentiation, which is "
            r"the whole point.",
            r"$$\int_1^e @xn \ln x\,dx = \left[\frac{@xn1 \ln x}{@n1}\right]_1^e - \frac{1}{@n1}"
            r"\int_1^e @xn\,dx = \frac{e^{@n1}}{@n1} - \frac{e^{@n1} - 1}{@n12} = "
            r"\frac{@n e^{@n1} + 1}{@n12} \approx @val.$$",
        ]
    intro = _p(
        r"Integration by parts is the product rule read backwards: from $(uv)' = u'v + uv'$ we "
        r"get $$\int_a^b u(x) v'(x)\,dx = \bigl[u(x)v(x)\bigr]_a^b - \int_a^b u'(x) v(x)\,dx.$$",
        r"A common heuristic for choosing $u$ is LIATE: logarithms, inverse trigonometric "
        r"functions, algebraic, trigonometric, exponential.",
    )
    return MathDoc("byparts", "Integration by parts, worked example",
                   rng.choice(["Integration by parts: which factor is u?", "Definite integral "
                               "by parts"]),
                   ["calculus", "integration"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


def _g_partfrac(rng: Rng) -> MathDoc:
    while True:
        p, q = rng.sample(range(-5, 6), 2)
        m, n = rng.randint(1, 5), rng.randint(-6, 6)
        A, B = Fraction(m * p + n, p - q), Fraction(m * q + n, q - p)
        if A != 0 and B != 0:
            break

    def term(c: Fraction, r: int, first: bool) -> str:
        s = ("-" if c < 0 else "") if first else (" - " if c < 0 else " + ")
        return s + ("" if abs(c) == 1 else _ftex(abs(c)) + " ") + r"\ln|" + _lin(r) + "|"

    kw = dict(num=_poly([m, n]), den=f"({_lin(p)})({_lin(q)})", p=p, q=q, A=_ftex(A),
              B=_ftex(B), fp=_lin(p), fq=_lin(q), integral=term(A, p, True) + term(B, q, False),
              Anum=m * p + n, pq=p - q, Bnum=m * q + n, qp=q - p)
    q_txt = r"Evaluate $\int \frac{@num}{@den}\,dx$ using partial fractions."
    ans = [
        r"Write $$\frac{@num}{@den} = \frac{A}{@fp} + \frac{B}{@fq}.$$ The cover-up method "
        r"finds the constants quickly: cover the factor $@fp$ and set $x = @p$ in what is "
        r"left, which gives $A = \frac{@Anum}{@pq} = @A$; cover $@fq$ and set $x = @q$ to get "
        r"$B = \frac{@Bnum}{@qp} = @B$.",
        r"Each piece integrates to a logarithm: $$\int \frac{@num}{@den}\,dx = @integral + C.$$",
    ]
    intro = _p(
        r"A proper rational function whose denominator factors into distinct linear factors "
        r"can be written as a sum $\sum_i \frac{A_i}{x - r_i}$. Since "
        r"$\int \frac{dx}{x - r} = \ln|x - r| + C$, this reduces the integral to logarithms.",
    )
    return MathDoc("partfrac", "Partial fraction decomposition",
                   rng.choice(["Partial fractions with two linear factors", "How does the "
                               "cover-up method work?"]),
                   ["calculus", "integration", "partial-fractions"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_modpow(rng: Rng) -> MathDoc:
    p = rng.choice([7, 11, 13, 17, 19, 23, 29])
    a, k = rng.randint(2, p - 1), rng.randint(100, 999)
    while k % (p - 1) == 0:  # keep a nonzero leftover exponent
        k += 1
    qd, r = divmod(k, p - 1)
    kw = dict(p=p, a=a, k=k, p1=p - 1, qd=qd, r=r, res=pow(a, k, p))
    q_txt = (r"What is the remainder when $@a^{@k}$ is divided by $@p$? Obviously I cannot "
             r"compute the power directly.")
    ans = [
        r"Since $@p$ is prime and does not divide $@a$, Fermat's little theorem gives "
        r"$@a^{@p1} \equiv 1 \pmod{@p}$.",
        r"Write the exponent as $@k = @qd \cdot @p1 + @r$. Then $$@a^{@k} = "
        r"\left(@a^{@p1}\right)^{@qd} \cdot @a^{@r} \equiv @a^{@r} \equiv @res \pmod{@p}.$$",
        r"So the remainder is $@res$. The remaining small power can be done by repeated "
        r"squaring, reducing modulo $@p$ after every multiplication.",
    ]
    intro = _p(
        r"Fermat's little theorem: if $p$ is prime and $p \nmid a$, then "
        r"$a^{p-1} \equiv 1 \pmod{p}$. Consequently exponents can be reduced modulo $p - 1$ "
        r"when computing powers modulo $p$.",
    )
    return MathDoc("modpow", "Large powers modulo a prime",
                   rng.choice(["Remainder of a huge power", "Using Fermat's little theorem "
                               "for a remainder"]),
                   ["modular-arithmetic", "elementary-number-theory"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_epsdelta(rng: Rng) -> MathDoc:
    m = rng.choice([-7, -5, -4, -3, -2, 2, 3, 4, 5, 6, 7])
    b, c = rng.randint(-9, 9), rng.randint(-5, 5)
    kw = dict(f=_poly([m, b]), c=c, L=m * c + b, am=abs(m), pc=_par(c), m=m, pL=_par(m * c + b),
              fc=_lin(c))
    q_txt = (r"Prove from the definition that $\lim_{x \to @c} (@f) = @L$. How do I choose "
             r"$\delta$?")
    ans = [
        r"Scratch work first: we want $|(@f) - @pL| < \varepsilon$. Simplify the left side: "
        r"$$|(@f) - @pL| = |@m(x - @pc)| = @am\,|@fc|.$$ So it suffices to make "
        r"$|@fc| < \frac{\varepsilon}{@am}$.",
        r"Proof. Let $\varepsilon > 0$ and put $\delta = \frac{\varepsilon}{@am}$. If "
        r"$0 < |x - @pc| < \delta$, then $|(@f) - @pL| = @am\,|x - @pc| < @am\delta = "
        r"\varepsilon$. Hence the limit is $@L$. $\blacksquare$",
        r"For linear functions $\delta$ can be read off directly; for nonlinear ones one "
        r"usually first restricts to $|x - c| < 1$ to bound the extra factor.",
    ]
    intro = _p(
        r"The $\varepsilon$-$\delta$ definition makes 'f(x) gets close to L' precise: for every "
        r"tolerance $\varepsilon > 0$ there is a $\delta > 0$ such that "
        r"$0 < |x - c| < \delta \implies |f(x) - L| < \varepsilon$. A proof must produce "
        r"$\delta$ as a function of $\varepsilon$.",
    )
    return MathDoc("epsdelta", "An epsilon-delta proof for a linear function",
                   rng.choice(["Epsilon-delta proof, how to pick delta",
                               "Proving a limit from the definition"]),
                   ["real-analysis", "limits", "epsilon-delta"], intro,
                   _p(_fill(q_txt, **kw)), _p(*[_fill(t, **kw) for t in ans]))


def _g_mvt(rng: Rng) -> MathDoc:
    b, k = rng.randint(2, 6), rng.randint(1, 9)
    kw = dict(b=b, k=k, f=_poly([1, 0, -k, 0]), fb=b**3 - k * b, sl=b * b - k,
              c=_sqrt_tex(b * b * 3), cd=_dec(b / sqrt(3), 4), b2=b * b)
    kw["c"] = (_ftex(Fraction(b, 3)) if b % 3 else "" if b == 3 else str(b // 3)) + r"\sqrt{3}"
    q_txt = (r"Find all $c$ in $(0, @b)$ that satisfy the conclusion of the mean value theorem "
             r"for $f(x) = @f$ on $[0, @b]$.")
    ans = [
        r"$f$ is a polynomial, hence continuous on $[0, @b]$ and differentiable on $(0, @b)$, "
        r"so the theorem applies. The average slope is "
        r"$$\frac{f(@b) - f(0)}{@b - 0} = \frac{@fb}{@b} = @sl.$$",
        r"We need $f'(c) = 3c^2 - @k = @sl$, i.e. $3c^2 = @b2$ and $c = \pm\frac{@b}{\sqrt{3}}$. "
        r"Only the positive value lies in $(0, @b)$, so $c = @c \approx @cd$.",
    ]
    intro = _p(
        r"Mean value theorem: if $f$ is continuous on $[a, b]$ and differentiable on $(a, b)$, "
        r"there is $c \in (a, b)$ with $$f'(c) = \frac{f(b) - f(a)}{b - a}.$$ Geometrically, "
        r"some tangent line is parallel to the secant through the endpoints.",
    )
    return MathDoc("mvt", "Applying the mean value theorem",
                   rng.choice(["Finding c in the mean value theorem", "Mean value theorem "
                               "for a cubic"]),
                   ["calculus", "real-analysis"], intro, _p(_fill(q_txt, **kw)),
                   _p(*[_fill(t, **kw) for t in ans]))


_GENERATORS: list[Callable[[Rng], MathDoc]] = [
    _g_quadratic, _g_integral, _g_derivative, _g_limit, _g_geometric, _g_induction, _g_linsys,
    _g_eigen, _g_binomial, _g_euclid, _g_taylor, _g_arith, _g_cosines, _g_complex, _g_logeq,
    _g_decay, _g_combinatorics, _g_amgm, _g_vectors, _g_byparts, _g_partfrac, _g_modpow,
    _g_epsdelta, _g_mvt,
]


def _math_doc(rng: Rng, i: int | None = None) -> MathDoc:
    gen = _GENERATORS[i % len(_GENERATORS)] if i is not None else rng.choice(_GENERATORS)
    return gen(rng)


def _gen_by_topic(topic: str) -> Callable[[Rng], MathDoc]:
    return next(g for g in _GENERATORS if g.__name__ == "_g_" + topic)


def _entries(name: str) -> list[tuple[str, str]]:
    """``=== Name`` headed entries of a data file, each text as the authoring format writes it."""
    parts = re.split(r"^=== (.+)\n", data_text(name), flags=re.M)[1:]
    return [(title, "\n" + body.rstrip("\n") + "\n")
            for title, body in zip(parts[::2], parts[1::2], strict=True)]


_THEOREMS = _entries("theorems.txt")
_DEFINITIONS = _entries("definitions.txt")
