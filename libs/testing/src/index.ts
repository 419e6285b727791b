// Test support shared by unit suites (fuzzing knobs); never imported by production code.
export * from './fuzz.ts';
export * from './arbitraries.ts';
