/**
 * The browser demo (demo/): its expression parser and analysis in Node, and
 * the page itself in headless Chromium driven by playwright-core: type a
 * function, read the plotted values back from `window.__plot`, compare them
 * with closed forms, check that an invalid expression shows an error, and
 * save a screenshot (to NABLA_DEMO_SCREENSHOT, which `npm run test:browser`
 * sets to docs/img/demo.png; a temporary file otherwise).
 *
 * The browser part skips with a message when no Chromium is installed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { FUNCTIONS, ParseError, analyse, parse, show } from "../demo/expr.js";
import { startServer } from "../demo/serve.js";
import { CHROMIUM, CHROMIUM_ARGS, skipMessage } from "./support/chromium.js";

// float64 evaluation of a few dozen operations: errors are ~1e-15 of the magnitudes; 1e-12 leaves room
const close = (got: number, want: number) => Math.abs(got - want) <= 1e-12 * (1 + Math.abs(want));

/** f = sin(x)·e^{−x²/2} and its derivatives, by hand: f′ = g(c − xs), f″ = g(x²s − 2s − 2xc), f‴ = g(6xs + 3x²c − 4c − x³s). */
const gaussSin = (x: number): number[] => {
  const [s, c, g] = [Math.sin(x), Math.cos(x), Math.exp((-x * x) / 2)];
  return [
    s * g,
    g * (c - x * s),
    g * (x * x * s - 2 * s - 2 * x * c),
    g * (6 * x * s + 3 * x * x * c - 4 * c - x ** 3 * s),
  ];
};
const sinDerivs = (x: number): number[] => [Math.sin(x), Math.cos(x), -Math.sin(x), -Math.cos(x)];

function expectSeries(xs: number[], series: number[][], closed: (x: number) => number[]): void {
  expect(series.length).toBe(4);
  xs.forEach((x, i) => {
    const want = closed(x);
    for (let k = 0; k < 4; k++)
      if (!close(series[k]![i]!, want[k]!)) throw new Error(`d^${k}f(${x}) = ${series[k]![i]}, expected ${want[k]}`);
  });
}

describe("demo expression parser", () => {
  it("follows the usual precedence: ^ right-associative above unary minus above * / above + -", () => {
    expect(show(parse("1 + 2 * 3"))).toBe("(1 + (2 * 3))");
    expect(show(parse("-x^2/2"))).toBe("((-(x ^ 2)) / 2)");
    expect(show(parse("2^3^2"))).toBe("(2 ^ (3 ^ 2))");
    expect(show(parse("2^-x"))).toBe("(2 ^ (-x))");
    expect(show(parse("x - 1 - 2"))).toBe("((x - 1) - 2)");
    expect(show(parse("sin(x) * exp(-x^2/2)"))).toBe("(sin(x) * exp(((-(x ^ 2)) / 2)))");
    expect(show(parse(" 1.5e-3*pi+e "))).toBe(`((0.0015 * ${Math.PI}) + ${Math.E})`);
  });

  it("rejects malformed input with a ParseError naming the column", () => {
    const cases: [string, RegExp][] = [
      ["sin(x", /expected "\)" but found "end of input" \(at column 6\)/],
      ["x +", /expected a number.*at column 4/],
      ["foo(x)", /unknown name "foo"/],
      ["x $ 2", /unexpected character "\$" \(at column 3\)/],
      ["(x) (x)", /unexpected "\("/],
      ["sin x", /expected "\("/],
      ["constructor(x)", /unknown name "constructor"/],
      ["", /expected a number/],
    ];
    for (const [src, msg] of cases) {
      expect(() => parse(src), src).toThrow(ParseError);
      expect(() => parse(src), src).toThrow(msg);
    }
  });

  it("computes f, f′, f″, f‴ matching closed forms (in Node)", () => {
    const a = analyse("sin(x) * exp(-x^2/2)", -4, 4, 41);
    expect(a.xs.length).toBe(41);
    expectSeries(a.xs, a.series, gaussSin);
    const b = analyse("sin(x)", -3, 3, 13);
    expectSeries(b.xs, b.series, sinDerivs);
    expect(a.graph).toMatch(/^\{ lambda a:f64\[\] \./);
    // constants differentiate to zero; log of a negative number is NaN (the plot breaks there)
    expect(analyse("3", 0, 1, 3).series).toEqual([
      [3, 3, 3],
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(Number.isNaN(analyse("log(x)", -1, 1, 3).series[0][0])).toBe(true);
  });

  it("every listed function is differentiable three times at 0.3", () => {
    for (const name of FUNCTIONS.keys()) {
      const { series } = analyse(`${name}(x)`, 0.3, 0.4, 2);
      for (const s of series) expect(Number.isFinite(s[0]), name).toBe(true);
    }
  });
});

let dir = "";
let server: Server | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

type Plot = { expr: string; xs: number[]; series: number[][] } | { expr: string; error: string };
const plotOf = (expr: string) =>
  page
    .waitForFunction((e) => {
      const p = (window as unknown as { __plot?: Plot }).__plot;
      return p?.expr === e && p;
    }, expr)
    .then((h) => h.jsonValue() as Promise<Plot>);

async function plot(expr: string): Promise<Plot> {
  await page.fill("#expr", expr);
  await page.press("#expr", "Enter");
  return plotOf(expr);
}

describe.skipIf(CHROMIUM === undefined)("browser demo in headless Chromium", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "nabla-demo-"));
    const started = await startServer(0);
    server = started.server;
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(started.url);
    await plotOf("sin(x) * exp(-x^2/2)");
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("plots the default function: values match the closed forms; four curves and a legend are drawn", async () => {
    const p = await plotOf("sin(x) * exp(-x^2/2)");
    if ("error" in p) throw new Error(p.error);
    expect(p.xs.length).toBe(401);
    expect(p.xs[0]).toBe(-4);
    expect(p.xs[400]).toBe(4);
    expectSeries(p.xs, p.series, gaussSin);
    // each curve's colour is on the canvas (curves and legend)
    const colours = await page.evaluate(() => {
      const c = document.getElementById("plot") as HTMLCanvasElement;
      const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      const seen = new Set<string>();
      for (let i = 0; i < d.length; i += 4) seen.add(`${d[i]},${d[i + 1]},${d[i + 2]}`);
      return ["31,119,180", "214,39,40", "44,160,44", "148,103,189"].map((rgb) => seen.has(rgb));
    });
    expect(colours).toEqual([true, true, true, true]);
    expect(await page.textContent("#graph")).toMatch(/^\{ lambda a:f64\[\] \.[\s\S]*cos a[\s\S]*\}$/);
  });

  it("typing sin(x) gives cos, −sin, −cos at the grid points", async () => {
    const p = await plot("sin(x)");
    if ("error" in p) throw new Error(p.error);
    expectSeries(p.xs, p.series, sinDerivs);
    expect(await page.textContent("#error")).toBe("");
    expect((await page.textContent("#graph"))!.replace(/\s+/g, " ")).toBe(
      "{ lambda a:f64[] . let b:f64[] = cos a in ( b ) }",
    );
  });

  it("an invalid expression shows an error message, and the page keeps working", async () => {
    const p = await plot("sin(x");
    expect(p).toEqual({ expr: "sin(x", error: expect.stringMatching(/^ParseError: expected "\)"/) });
    expect(await page.textContent("#error")).toMatch(/ParseError: expected "\)" but found "end of input"/);
    expect((await plot("nope(x)")) as { error: string }).toHaveProperty(
      "error",
      expect.stringMatching(/unknown name "nope"/),
    );
    const again = await plot("x^3");
    if ("error" in again) throw new Error(again.error);
    expectSeries(again.xs, again.series, (x) => [x ** 3, 3 * x * x, 6 * x, 6]);
    expect(await page.textContent("#error")).toBe("");
    expect(pageErrors).toEqual([]);
  });

  it("saves a screenshot of the default plot", async () => {
    await plot("sin(x) * exp(-x^2/2)");
    const path = resolve(process.env.NABLA_DEMO_SCREENSHOT ?? join(dir, "demo.png"));
    mkdirSync(dirname(path), { recursive: true });
    await page.screenshot({ path, fullPage: true });
    expect(statSync(path).size).toBeGreaterThan(10_000);
  });
});

if (CHROMIUM === undefined) skipMessage("demo browser test");
