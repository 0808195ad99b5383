// A small Stryker run to check the mutation-testing setup on one module
// (the full run is `npm run mutate`, stryker.config.mjs at the root). Stryker 10 needs Node >= 22;
// on Node 20 see docs/Reliability.md, "Mutation testing", for how the core was started directly.
import base from "../../stryker.config.mjs"

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: ["src/internal/validate.ts"],
  concurrency: 1,
  incremental: false,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/validate.json" },
  tempDirName: ".stryker-tmp-reliability",
  // other engineers' scratch directories come and go in the shared tree: copy only what the run needs
  ignorePatterns: ["/*", "!/src", "!/test", "!/package.json", "!/vitest.config.ts", "!/tsconfig*.json"]
}
