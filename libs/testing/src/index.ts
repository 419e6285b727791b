// Test support shared by unit suites (fuzzing knobs); never imported by production code.
export {};
