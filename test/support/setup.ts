// Runs before each test file: Temporal's own logs at WARN, so test output shows test results.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });
