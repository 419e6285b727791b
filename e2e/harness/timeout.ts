// Jest ignores `testTimeout` in a project's config: every e2e test without its own timeout
// would get the 5 s default, too short for a server dry run on a busy 2-core machine.
import { jest } from '@jest/globals';

jest.setTimeout(300_000);
