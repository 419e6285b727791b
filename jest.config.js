// Jest runs the TypeScript sources as native ES modules (node --experimental-vm-modules),
// transformed by swc; type checking is `tsc`'s job, not Jest's.
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2024' },
      module: { type: 'es6' },
    },
  ],
};
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  // Build output (the image builder's staging trees hold package.json copies) and the real
  // node's state (unpacked images) are no modules of ours.
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.nicpool/'],
};

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,scripts,tests}/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'],
      globalSetup: '<rootDir>/e2e/harness/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/harness/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/e2e/harness/timeout.ts'],
    },
  ],
};
