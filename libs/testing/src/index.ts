// Test support shared by unit suites (fuzzing knobs, time budgets); never imported by production code.
export * from './fuzz.ts';
export * from './arbitraries.ts';
export * from './budget.ts';
export * from './pools.ts';
