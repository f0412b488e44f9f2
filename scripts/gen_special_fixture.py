#!/usr/bin/env python3
"""Reference values for nabla's special functions (test/fixtures/special.json).

Computed with mpmath at 50 significant digits, independently of nabla, and
rounded once to the nearest float64. Inputs are float64 values themselves
(so the reference is the exact function at the exact input). Regenerate with

    python3 scripts/gen_special_fixture.py > test/fixtures/special.json
    npx prettier --write test/fixtures/special.json

(CI never runs this: the JSON is committed.) Needs mpmath (python3-mpmath).
"""
import json
import random

import mpmath as mp

mp.mp.dps = 50
rng = random.Random(20261201)


def f64(v):
    return float(v)


def uniform(lo, hi, n):
    return [rng.uniform(lo, hi) for _ in range(n)]


def logspace(lo, hi, n):
    return [10 ** rng.uniform(lo, hi) for _ in range(n)]


def near(points, ks):
    out = []
    for p in points:
        for k in ks:
            out += [p + 10.0 ** -k, p - 10.0 ** -k]
    return out


def table(f, xs):
    rows = []
    for x in xs:
        v = f(mp.mpf(x))
        rows.append([x, f64(v)])
    return rows


pos = uniform(0, 12, 400) + logspace(-300, 300, 200) + near([1.0, 2.0, 3.0], range(1, 16)) + [0.5, 1.5, 2.5, 10.0]
neg = [x for x in uniform(-30, 0, 300) if abs(x - round(x)) > 1e-3]

lgamma = {
    "positive": table(lambda x: mp.log(abs(mp.gamma(x))), pos),
    "negative": table(lambda x: mp.log(abs(mp.gamma(x))), neg),
}
digamma = {
    "positive": table(mp.digamma, pos + near([1.4616321449683622], range(1, 16))),
    "negative": table(mp.digamma, neg),
}
polygamma = {
    str(n): table(lambda x, n=n: mp.polygamma(n, x), uniform(0.05, 40, 150) + logspace(-3, 3, 50))
    for n in (1, 2, 3, 4)
}
erfc = table(mp.erfc, uniform(-6, 27, 600) + uniform(-1.5, 1.5, 200) + [0.0, 1.25, -1.25, 26.5])
ys = uniform(-1, 1, 500) + [s * (1 - 2.0 ** -k) for k in range(1, 54) for s in (1, -1)]
ys += [s * 10.0 ** -k for k in range(1, 300, 7) for s in (1, -1)]
erfinv = [[y, f64(mp.erfinv(mp.mpf(y)))] for y in ys]
# drawn last, so the sets above are unchanged: polygamma on the negative axis (reflection below -20)
negx = [x for x in uniform(-60, 0, 120) if abs(x - round(x)) > 1e-3] + [-25.5, -1000.3]
for n in (1, 2, 3):
    polygamma["negative" + str(n)] = table(lambda x, n=n: mp.polygamma(n, x), negx)

print(
    json.dumps(
        {
            "generator": "scripts/gen_special_fixture.py (mpmath %s, 50 digits)" % mp.__version__,
            "lgamma": lgamma,
            "digamma": digamma,
            "polygamma": polygamma,
            "erfc": erfc,
            "erfinv": erfinv,
        }
    )
)
