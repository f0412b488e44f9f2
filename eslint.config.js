// ESLint flat config: @eslint/js and typescript-eslint recommended rules (syntax only, no type information).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", "coverage/", "docs/api/"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: "module" },
    rules: {
      // Transform boundaries take and return arbitrary pytrees; `any` there is deliberate.
      "@typescript-eslint/no-explicit-any": "off",
      // `_`-prefixed names mark parameters and bindings that are intentionally unused.
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
        },
      ],
      // `{}` is the parameter type of primitives that take no parameters.
      "@typescript-eslint/no-empty-object-type": "off",
      // The pytree registry is keyed by arbitrary constructors.
      "@typescript-eslint/no-unsafe-function-type": "off",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "prefer-const": "error",
      "no-var": "error",
    },
  },
  {
    // noUncheckedIndexedAccess is on; the library does not silence it with `!` (CONTRIBUTING.md,
    // "Non-null assertions"). The one exception is the CPU kernels' typed-array reads in inner loops.
    files: ["src/**/*.ts", "examples/**/*.ts", "demo/**/*.ts", "tools/**/*.ts", "scripts/**/*.ts"],
    ignores: ["src/kernels/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "error" },
  },
);
