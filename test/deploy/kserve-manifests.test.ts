/**
 * deploy/kserve/ against KServe's CRD schemas (trimmed fixtures from the kserve/kserve repository,
 * test/deploy/kserve-crd.ts) and the Kubernetes API schemas (the PVC and the loader pod, as deploy/k8s/), then what
 * the schemas cannot know: that the InferenceService finds the ServingRuntime and fits it, and that the runtime's
 * container fits this service (its settings, ports, routes and KServe's model mount).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { loadManifests, type Manifest, schemaErrors, strictErrors } from './k8s-validate.ts';
import { crdValidator, loadFixture } from './kserve-crd.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = join(root, 'deploy/kserve');
const fixtures = join(root, 'test/fixtures/kserve');
const manifests = loadManifests(
  dir,
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort(),
);
const label = (m: Manifest) => `${m.file}: ${m.kind}/${m.name}`;

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML; the schema tests above type them
type Any = any;
const one = (kind: string): Any => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return structuredClone(found[0]!.doc);
};

const validators = {
  ServingRuntime: crdValidator(loadFixture(join(fixtures, 'servingruntimes.serving.kserve.io.yaml'))),
  InferenceService: crdValidator(loadFixture(join(fixtures, 'inferenceservices.serving.kserve.io.yaml'))),
};
const custom = manifests.filter((m) => m.kind in validators);
const core = manifests.filter((m) => !(m.kind in validators));

/** KServe's protocol names (pkg/constants: ProtocolV1, ProtocolV2, ProtocolGRPCV1, ProtocolGRPCV2). */
const KSERVE_PROTOCOLS = ['v1', 'v2', 'grpc-v1', 'grpc-v2'];
/** Where KServe's storage initializer puts a storageUri (pkg/constants: DefaultModelLocalMountPath). */
const KSERVE_MODEL_DIR = '/mnt/models';

describe('KServe manifests against the schemas', () => {
  it('finds the ServingRuntime, the InferenceService, the model store claim and its loader pod', () => {
    expect(manifests.map((m) => `${m.kind}/${m.name}`).sort()).toEqual(
      [
        'InferenceService/gan-serve',
        'PersistentVolumeClaim/gan-models',
        'Pod/gan-models-loader',
        'ServingRuntime/gan-serve',
      ].sort(),
    );
  });

  it('the fixtures say which KServe CRD they were trimmed from', () => {
    for (const file of readdirSync(fixtures)) {
      expect(loadFixture(join(fixtures, file)).source).toMatch(
        /^kserve\/kserve@[0-9a-f]{40}:config\/crd\/full\/serving\.kserve\.io_\w+\.yaml$/,
      );
    }
  });

  for (const m of custom) {
    it(`${label(m)} is valid against KServe's ${m.kind} CRD`, () => {
      expect(validators[m.kind as keyof typeof validators](m.doc)).toEqual([]);
    });
  }

  for (const m of core) {
    it(`${label(m)} is valid ${m.apiVersion} ${m.kind}`, async () => {
      expect(await schemaErrors(m)).toEqual([]);
    });
  }

  let strict: string[][];
  beforeAll(() => {
    strict = strictErrors(root, core);
  }, 300_000);
  it('the Kubernetes objects use only fields the API defines (strict)', () => {
    expect(Object.fromEntries(core.map((m, i) => [label(m), strict[i]]))).toEqual(
      Object.fromEntries(core.map((m) => [label(m), []])),
    );
  });

  const runtimeCase = (mutate: (doc: Any) => void) => {
    const doc = one('ServingRuntime');
    mutate(doc);
    return validators.ServingRuntime(doc);
  };
  const serviceCase = (mutate: (doc: Any) => void) => {
    const doc = one('InferenceService');
    mutate(doc);
    return validators.InferenceService(doc);
  };

  it.each([
    ['no containers', (d: Any) => delete d.spec.containers, "/spec must have required property 'containers'"],
    [
      'a container without a name',
      (d: Any) => delete d.spec.containers[0].name,
      "/spec/containers/0 must have required property 'name'",
    ],
    [
      'a port number as a string',
      (d: Any) => {
        d.spec.containers[0].ports[1].containerPort = 'grpc';
      },
      '/spec/containers/0/ports/1/containerPort must be integer',
    ],
    [
      'a memory limit that is not a quantity',
      (d: Any) => {
        d.spec.containers[0].resources.limits.memory = 'lots';
      },
      expect.stringMatching(/^\/spec\/containers\/0\/resources\/limits\/memory must match pattern/),
    ],
    [
      'autoSelect as a string',
      (d: Any) => {
        d.spec.supportedModelFormats[0].autoSelect = 'yes';
      },
      '/spec/supportedModelFormats/0/autoSelect must be boolean',
    ],
    [
      'a misspelt field (protocolVersion for protocolVersions)',
      (d: Any) => {
        d.spec.protocolVersion = d.spec.protocolVersions;
        delete d.spec.protocolVersions;
      },
      "/spec has unknown field 'protocolVersion'",
    ],
  ])('rejects a ServingRuntime with %s', (_what, mutate, error) => {
    expect(runtimeCase(mutate)).toContainEqual(error);
  });

  it.each([
    [
      'a model format without a name',
      (d: Any) => delete d.spec.predictor.model.modelFormat.name,
      "/spec/predictor/model/modelFormat must have required property 'name'",
    ],
    [
      'minReplicas as a string',
      (d: Any) => {
        d.spec.predictor.minReplicas = 'one';
      },
      '/spec/predictor/minReplicas must be integer',
    ],
    [
      'a misspelt field (storageURI)',
      (d: Any) => {
        d.spec.predictor.model.storageURI = d.spec.predictor.model.storageUri;
        delete d.spec.predictor.model.storageUri;
      },
      "/spec/predictor/model has unknown field 'storageURI'",
    ],
  ])('rejects an InferenceService with %s', (_what, mutate, error) => {
    expect(serviceCase(mutate)).toContain(error);
  });

  it('rejects a resource of another kind or version than the CRD', () => {
    expect(serviceCase((d) => (d.apiVersion = 'serving.kserve.io/v1alpha1'))).toEqual([
      'expected apiVersion serving.kserve.io/v1beta1, kind InferenceService',
    ]);
  });
});

describe('the KServe manifests fit together and fit the service', () => {
  const runtime = one('ServingRuntime');
  const service = one('InferenceService');
  const container = runtime.spec.containers[0];
  const env: Record<string, string> = Object.fromEntries(container.env.map((e: Any) => [e.name, e.value]));
  const model = service.spec.predictor.model;

  it('the InferenceService names the runtime, one of its model formats and one of its protocols', () => {
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats).toContainEqual(expect.objectContaining(model.modelFormat));
    expect(runtime.spec.protocolVersions).toContain(model.protocolVersion);
  });

  it('the runtime speaks the v2 protocol over HTTP and gRPC, in KServe’s protocol names', () => {
    expect(runtime.spec.protocolVersions).toEqual(['v2', 'grpc-v2']);
    for (const p of runtime.spec.protocolVersions) expect(KSERVE_PROTOCOLS).toContain(p);
  });

  it('its container is the one KServe merges the predictor into, and sets only settings the service accepts', () => {
    expect(container.name).toBe('kserve-container');
    const gan = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('GAN_')));
    // Empty values are unset, as Kubernetes passes them and loadConfig reads them.
    expect(() => loadConfig(gan)).not.toThrow();
    expect(env.GAN_MODELS_DIR).toBe(KSERVE_MODEL_DIR);
  });

  it('exposes the HTTP port first and the gRPC port second, named so KServe marks it h2c', () => {
    const config = loadConfig(env);
    const [http, grpc] = container.ports;
    expect(http).toMatchObject({ containerPort: config.GAN_PORT, protocol: 'TCP' });
    expect(http.name).not.toMatch(/grpc|h2c/);
    expect(grpc).toMatchObject({ containerPort: config.GAN_GRPC_PORT, protocol: 'TCP' });
    expect(grpc.name).toMatch(/grpc|h2c/);
    // Knative allows one container port: two need Standard (RawDeployment) mode.
    expect(['RawDeployment', 'Standard']).toContain(
      service.metadata.annotations['serving.kserve.io/deploymentMode'],
    );
  });

  it('probes v2 health routes the service serves (openapi.yaml), on the HTTP port', () => {
    const paths = Object.keys(parse(readFileSync(join(root, 'openapi.yaml'), 'utf8')).paths);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      const get = container[probe].httpGet;
      expect(paths, probe).toContain(get.path);
      expect(get.port).toBe(Number(env.GAN_PORT));
    }
    expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/v2/health/live');
  });

  it('runs non-root on a read-only root filesystem, /tmp on an emptyDir of the runtime', () => {
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 1000,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const tmp = container.volumeMounts.find((v: Any) => v.mountPath === '/tmp');
    expect(runtime.spec.volumes.find((v: Any) => v.name === tmp.name).emptyDir).toBeDefined();
  });

  it('takes its models from the PVC that pvc.yaml claims and the loader pod fills', () => {
    const match = /^pvc:\/\/([^/]+)\/(.+)$/.exec(model.storageUri);
    expect(match).not.toBeNull();
    expect(one('PersistentVolumeClaim').metadata.name).toBe(match![1]);
    const loader = one('Pod');
    expect(loader.spec.volumes[0].persistentVolumeClaim.claimName).toBe(match![1]);
  });
});
