// Integration tests against the dev cluster (hack/dev-cluster.sh), run by hack/test-integration.sh, which starts the
// control plane, exports KUBECONFIG and stops it afterwards. Kept out of the unit run (testMatch *.itest.ts).
import base from './jest.config.js';

export default {
  ...base,
  roots: ['<rootDir>/test/integration'],
  testMatch: ['**/*.itest.ts'],
  testTimeout: 180000,
  // One file at a time: both share one small control plane and its three nodes.
  maxWorkers: 1,
};
