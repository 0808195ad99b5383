/**
 * Property tests are deterministic: every fast-check run uses one fixed seed
 * (override with FC_SEED to explore). effect/FastCheck (what @effect/vitest's
 * `it.prop` uses) and the fast-check package may be different copies, so both
 * are configured.
 */
import { FastCheck } from "effect"
import * as fc from "fast-check"

const seed = Number(process.env.FC_SEED ?? 20261123)
FastCheck.configureGlobal({ ...FastCheck.readConfigureGlobal(), seed })
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed })
