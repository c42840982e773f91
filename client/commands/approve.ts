// `keyless approve <pipeline> --stage cutover|finalize`: the approve update.

import { decisionCommand } from '../operator-commands';

export const approve = decisionCommand('approve');
