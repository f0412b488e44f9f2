// TypeDoc plugin for nabla's API reference.
//
// 1. Modules are named by their import specifier: the "." entry (src/index.ts) is "nabla", the
//    others "nabla/NAME" (TypeDoc would call them "index", "testing", "fp").
// 2. An NDArray method without its own JSDoc that mirrors a free function of the same
// name (`x.add(y)` is `nb.add(x, y)`) is documented by a link to that function, so the reference
// shows where its documentation lives. Methods with no such function still need their own JSDoc
// (TypeDoc's notDocumented validation reports them).
import { Comment, Converter, ReflectionKind } from "typedoc";

/** @param {import("typedoc").Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.children ?? []) {
      if (module.kindOf(ReflectionKind.Module))
        module.name = module.name === "index" ? "nabla" : `nabla/${module.name}`;
    }
    for (const cls of context.project.getReflectionsByKind(ReflectionKind.Class)) {
      if (cls.name !== "NDArray" || cls.parent === undefined) continue;
      const module = cls.parent;
      for (const method of cls.children ?? []) {
        // methods declared in the class, and the function-valued properties that
        // src/ops/methods.ts adds to NDArray by module augmentation
        if (!method.kindOf(ReflectionKind.Method | ReflectionKind.Property)) continue;
        const fn = module.getChildByName([method.name]);
        if (fn === undefined || !fn.kindOf(ReflectionKind.Function)) continue;
        const link = () =>
          new Comment([
            { kind: "text", text: "Method form of " },
            { kind: "inline-tag", tag: "@link", text: method.name, target: fn },
            { kind: "text", text: `: \`x.${method.name}(...args)\` is \`${method.name}(x, ...args)\`.` },
          ]);
        if (method.kindOf(ReflectionKind.Property)) {
          if (!method.hasComment()) method.comment = link();
          continue;
        }
        for (const sig of method.signatures ?? []) {
          if (sig.hasComment() || method.hasComment()) continue;
          sig.comment = link();
        }
      }
    }
  });
  app.converter.on(Converter.EVENT_RESOLVE_END, (context) => {
    const kinds = ReflectionKind.Function | ReflectionKind.Class | ReflectionKind.Variable;
    for (const r of context.project.getReflectionsByKind(kinds)) {
      if (!r.parent?.kindOf(ReflectionKind.Module | ReflectionKind.Namespace)) continue;
      const comments = [r.comment, ...(r.signatures ?? []).map((s) => s.comment)];
      if (!comments.some((c) => c?.getTag("@example") !== undefined))
        app.logger.warn(`${r.getFullName()} is exported without an @example in its JSDoc`);
    }
  });
}
