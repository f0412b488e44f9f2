// TypeDoc configuration for `npm run docs`: the API reference in docs/api/ from the JSDoc.
// Entry points are every export of package.json (./dist/X.js is built from src/X.ts), so a new
// entry is documented without editing this file. Warnings are errors: an undocumented export
// (notDocumented) or a broken {@link} fails the build.
import { readFileSync } from "node:fs";
import { URL } from "node:url";

const pkg = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const entryPoints = Object.values(pkg.exports).map((e) =>
  e.import.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"),
);

/** @type {Partial<import("typedoc").TypeDocOptions>} */
export default {
  name: "nabla",
  entryPoints,
  tsconfig: "tsconfig.build.json",
  out: "docs/api",
  readme: "none",
  plugin: ["./scripts/typedoc-methods.mjs"],
  // no source links: they would depend on the clone's git remote (CI clones from a local path)
  disableSources: true,
  excludePrivate: true,
  excludeInternal: true,
  treatWarningsAsErrors: true,
  // notExported is off: a few internal type aliases (Axis, Axes, Params, ...) appear in public
  // signatures without being exported themselves.
  validation: { notExported: false, invalidLink: true, notDocumented: true },
  requiredToBeDocumented: ["Function", "Class", "Variable", "Namespace", "Interface", "TypeAlias", "Enum"],
};
