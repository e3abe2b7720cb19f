// Fault tests draw their random points from a fixed seed, printed, so a run
// that found something can be replayed exactly (CAPSTAN_FAULT_SEED=<seed>).

/** mulberry32: a small, well-mixed 32-bit generator; floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: CAPSTAN_FAULT_SEED when set, else `fallback`; printed either way. */
export function faultSeed(fallback: number): number {
  const given = process.env['CAPSTAN_FAULT_SEED'];
  const seed = given === undefined || given === '' ? fallback : Number(given);
  if (!Number.isInteger(seed)) throw new Error(`CAPSTAN_FAULT_SEED=${given ?? ''} is not an integer`);
  console.log(`[fault] seed ${seed} (replay with CAPSTAN_FAULT_SEED=${seed})`);
  return seed;
}
