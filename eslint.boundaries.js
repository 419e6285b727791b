// Import direction rules, shared by eslint.config.js and the test that proves they bite.
const APPS = ['webhook', 'allocator', 'controller', 'cni-shim'];

/** Import restrictions that keep arrows one way: apps → libs, never app → app or lib → app. */
export const boundaries = [
  {
    files: ['libs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: APPS.map((a) => `@nicpool/${a}`),
              message: 'libs must not import apps (arrows point apps → libs).',
            },
            {
              group: ['**/apps/**'],
              message: 'libs must not import apps (arrows point apps → libs).',
            },
            {
              regex: '^\\.\\./\\.\\./(?!\\.\\./)',
              message: 'import another lib by its package name (@nicpool/…), not by path.',
            },
          ],
        },
      ],
    },
  },
  ...APPS.map((app) => ({
    files: [`apps/${app}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: APPS.filter((a) => a !== app).map((a) => `@nicpool/${a}`),
              message: 'apps must not import other apps; share code through a lib.',
            },
            {
              group: ['**/apps/**', '../../*'],
              message: 'apps must not import other apps; share code through a lib.',
            },
          ],
        },
      ],
    },
  })),
];
