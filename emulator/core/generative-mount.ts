// Mounts the generative and data surfaces (Gemini, Vertex, Monitoring, Storage), which another
// module owns, on the core: implements the context they ask for and returns their routes.

import { geminiRoutes } from '../surfaces/gemini';
import type { GenerativeContext, ResolvedApiKey } from '../surfaces/generative-context';
import { monitoringRoutes } from '../surfaces/monitoring';
import { seedBuckets, storageRoutes } from '../surfaces/storage';
import { vertexRoutes } from '../surfaces/vertex';
import type { RouteDef } from './contract';
import type { EmulatorCore } from './core';

/** The core seen through the generative surfaces' interface. */
export function generativeContext(core: EmulatorCore): GenerativeContext {
  const { retirement, rejection } = core.fixture;
  return {
    now: () => core.now(),
    models: core.fixture.models,
    keyRetirement: {
      ...(retirement.unrestrictedKeysRejectedFrom ? { unrestrictedKeysRejectedFrom: retirement.unrestrictedKeysRejectedFrom } : {}),
      ...(retirement.standardKeysRejectedFrom ? { allStandardKeysRejectedFrom: retirement.standardKeysRejectedFrom } : {}),
      rejection,
    },
    resolveApiKey(keyString: string): ResolvedApiKey | undefined {
      const key = core.keyByString(keyString);
      if (!key) return undefined;
      const account = key.serviceAccountEmail ? core.liveServiceAccount(key.serviceAccountEmail) : undefined;
      return {
        name: key.name,
        uid: key.uid,
        project: key.projectId,
        projectNumber: key.projectNumber,
        ...(key.restrictions ? { restrictions: key.restrictions } : {}),
        ...(key.serviceAccountEmail ? { serviceAccountEmail: key.serviceAccountEmail } : {}),
        ...(account ? { serviceAccount: { uniqueId: account.uniqueId, disabled: account.disabled } } : {}),
        deleted: key.deleteTime !== undefined,
      };
    },
    resolveBearer: (authorization) => core.resolveBearer(authorization),
    resolveProject(idOrNumber) {
      const project = core.resolveProject(idOrNumber);
      return project ? { projectId: project.projectId, projectNumber: project.projectNumber } : undefined;
    },
    hasProjectRole: (projectId, member, roles) => core.hasProjectRole(projectId, member, roles),
    get state() {
      return core.state.generative;
    },
    markDirty: () => core.markDirty(),
  };
}

/** The Gemini API, Vertex AI, Cloud Monitoring and Cloud Storage routes, wired to the core. */
export function mountGenerativeSurfaces(core: EmulatorCore): RouteDef[] {
  if (core.freshlySeeded) seedBuckets(core.state.generative, core.fixture.buckets, core.now());
  const ctx = generativeContext(core);
  return [...geminiRoutes(ctx), ...vertexRoutes(ctx), ...monitoringRoutes(ctx), ...storageRoutes(ctx)];
}
