// @ts-check
import effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "reports/**", ".stryker-tmp/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      // type-level code (phantom variance, folds over tuples) needs `any`
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error"
    }
  },
  {
    // library code imports Effect modules by subpath (effect/Effect), never from the barrel
    files: ["src/**/*.ts"],
    plugins: { "@effect": effect },
    rules: {
      "@effect/no-import-from-barrel-package": ["error", { packageNames: ["effect", "@effect/platform"] }],
      // a fiber inherits the flags of the fiber that forks it: the library's own background fibers
      // go through `background` (src/internal/detached.ts) so that closing their scope stops them
      // even when the policy or layer was built in an uninterruptible region
      "no-restricted-syntax": [
        "error",
        {
          selector:
            "CallExpression[callee.object.name='Effect'][callee.property.name=/^fork(Scoped|In|Daemon)$/]:not([arguments.0.callee.name=/^(background|detached|ownIO)$/])",
          message:
            "Fork the library's own work through `background(…)` (src/internal/detached.ts): a fiber inherits its parent's uninterruptibility. The user's own work: disable this line with the reason."
        },
        {
          selector:
            "MemberExpression[object.name='Effect'][property.name=/^fork(Scoped|In|Daemon)$/]:not(CallExpression > MemberExpression.callee)",
          message:
            "Effect.fork* in a pipe: put `background` just before it (src/internal/detached.ts) and disable this line with that reason, or call it on `background(…)`."
        },
        {
          selector:
            "CallExpression[callee.type='CallExpression'][callee.callee.object.name='Runtime'][callee.callee.property.name='runFork']:not([arguments.0.callee.name=/^(background|detached|ownIO)$/])",
          message: "Runtime.runFork(runtime)(…): the runtime carries the flags it was captured with; run `background(…)` in it."
        },
        {
          // a wrapper re-derives, hashes and looks up its MetricKey on every update (~2–3 µs)
          selector: "MemberExpression[object.name='Metric'][property.name=/^tagged(WithLabels)?$/]",
          message: "Build a tagged metric with its tags in its key: `tagged(key, tags)` of src/internal/metricKeys.ts (a Metric.tagged wrapper costs microseconds per update)."
        }
      ]
    }
  },
  {
    files: ["demo/**", "scripts/**", "bench/**", "examples/**", "test/**"],
    rules: { "no-console": "off" }
  }
)
