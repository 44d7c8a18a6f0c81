/**
 * deploy/k8s/ against the Kubernetes API schemas (test/deploy/k8s-validate.ts: kubernetes-models' JSON schemas plus
 * a strict unknown-field pass over the same package's types), then what the schemas cannot know: that the objects
 * fit together and fit this service (its routes, port, settings and shutdown time).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { loadManifests, type Manifest, schemaErrors, strictErrors } from './k8s-validate.ts';

const root = resolve(import.meta.dirname, '../..');
const dir = join(root, 'deploy/k8s');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();
const manifests = loadManifests(dir, files);
const label = (m: Manifest) => `${m.file}: ${m.kind}/${m.name}`;

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML; the schema tests above type them
type Any = any;
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind).map((m) => m.doc as Any);
const deployments = byKind('Deployment');
const container = (d: Any) => d.spec.template.spec.containers[0];
const envOf = (d: Any): Record<string, string> =>
  Object.fromEntries((container(d).env ?? []).map((e: Any) => [e.name, e.value]));
const cpu = deployments.find((d) => d.metadata.name === 'gan-serve');
const gpu = deployments.find((d) => d.metadata.name === 'gan-serve-gpu');

const brokenDeployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'broken' },
  spec: {
    replicas: 'two',
    selector: { matchLabels: { app: 'x' } },
    template: {
      metadata: { labels: { app: 'x' } },
      spec: { containers: [{ name: 'x', image: 'x', ports: [{ containerPort: 'http' }] }] },
    },
  },
};

describe('Kubernetes manifests against the API schemas', () => {
  it('finds the Deployment, GPU Deployment, Service, both autoscalers and the disruption budget', () => {
    expect(manifests.map((m) => `${m.kind}/${m.name}`).sort()).toEqual(
      [
        'Deployment/gan-serve',
        'Deployment/gan-serve-gpu',
        'HorizontalPodAutoscaler/gan-serve',
        'HorizontalPodAutoscaler/gan-serve',
        'PodDisruptionBudget/gan-serve',
        'Service/gan-serve',
      ].sort(),
    );
  });

  for (const m of manifests) {
    it(`${label(m)} is valid ${m.apiVersion} ${m.kind}`, async () => {
      expect(await schemaErrors(m)).toEqual([]);
    });
  }

  let strict: string[][];
  beforeAll(() => {
    strict = strictErrors(root, manifests);
  }, 300_000);

  it('every field is one the API defines (strict)', () => {
    expect(Object.fromEntries(manifests.map((m, i) => [label(m), strict[i]]))).toEqual(
      Object.fromEntries(manifests.map((m) => [label(m), []])),
    );
  });

  it('rejects a broken manifest: wrong types, a missing required field', async () => {
    const errors = (
      await schemaErrors({ apiVersion: 'apps/v1', kind: 'Deployment', doc: brokenDeployment })
    )[0];
    expect(errors).toContain('data/spec/replicas must be integer');
    expect(errors).toContain('data/spec/template/spec/containers/0/ports/0/containerPort must be integer');
    const noContainers = structuredClone(brokenDeployment) as Any;
    noContainers.spec.replicas = 1;
    noContainers.spec.template.spec = {};
    expect(await schemaErrors({ apiVersion: 'apps/v1', kind: 'Deployment', doc: noContainers })).toEqual([
      'data/spec/template/spec must have required property containers',
    ]);
  });

  it('rejects a misspelt field in the strict pass, naming it and where it belongs', () => {
    const typo = structuredClone(cpu);
    container(typo).readinesProbe = container(typo).readinessProbe;
    delete container(typo).readinessProbe;
    const [errors] = strictErrors(root, [
      { file: 'typo.yaml', index: 0, apiVersion: 'apps/v1', kind: 'Deployment', name: 'typo', doc: typo },
    ]);
    expect(errors).toHaveLength(1);
    expect(errors![0]).toMatch(/'readinesProbe' does not exist in type '.*Container'/);
  }, 300_000);

  it('rejects a kind it has no schema for instead of passing it', async () => {
    await expect(schemaErrors({ apiVersion: 'apps/v1', kind: 'Deploymnet', doc: {} })).rejects.toThrow(
      /unknown kind Deploymnet/,
    );
    await expect(schemaErrors({ apiVersion: 'app/v1', kind: 'Deployment', doc: {} })).rejects.toThrow(
      /unknown apiVersion app\/v1/,
    );
  });
});

describe('the manifests fit together and fit the service', () => {
  it('each Deployment selects its own pods, and the Service selects both variants’ pods', () => {
    const [service] = byKind('Service');
    for (const d of deployments) {
      const labels = d.spec.template.metadata.labels;
      expect(labels).toMatchObject(d.spec.selector.matchLabels);
      expect(labels).toMatchObject(service.spec.selector);
      expect(container(d).ports.map((p: Any) => p.name)).toContain(service.spec.ports[0].targetPort);
    }
    // Two Deployments must never claim each other's pods.
    expect(cpu.spec.selector.matchLabels).not.toMatchObject(gpu.spec.template.metadata.labels);
    expect(gpu.spec.selector.matchLabels).not.toMatchObject(cpu.spec.template.metadata.labels);
  });

  it('both autoscalers scale an existing Deployment, within sane bounds', () => {
    for (const hpa of byKind('HorizontalPodAutoscaler')) {
      const ref = hpa.spec.scaleTargetRef;
      expect(
        deployments.map((d) => `${ref.apiVersion === 'apps/v1' && ref.kind}/${d.metadata.name}`),
      ).toContain(`Deployment/${ref.name}`);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    }
  });

  it('autoscales on CPU, or on the service’s gan_queue_depth gauge as a Pods metric', () => {
    const metrics = byKind('HorizontalPodAutoscaler').flatMap((h) => h.spec.metrics);
    expect(metrics).toContainEqual({
      type: 'Resource',
      resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
    });
    expect(metrics).toContainEqual(
      expect.objectContaining({
        type: 'Pods',
        pods: expect.objectContaining({ metric: { name: 'gan_queue_depth' } }),
      }),
    );
  });

  for (const name of ['gan-serve', 'gan-serve-gpu']) {
    describe(name, () => {
      const d = deployments.find((x) => x.metadata.name === name);
      const c = container(d);
      const pod = d.spec.template.spec;

      it('probes the service’s routes on its port: /readyz for readiness and startup, /healthz for liveness', () => {
        expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
        expect(envOf(d).GAN_PORT).toBe('8080');
        expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
        expect(c.startupProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
        expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      });

      it('sets only GAN_* settings the service accepts', () => {
        const gan = Object.fromEntries(Object.entries(envOf(d)).filter(([k]) => k.startsWith('GAN_')));
        expect(() => loadConfig(gan)).not.toThrow();
      });

      it('gives a graceful shutdown its time: grace period > preStop + GAN_SHUTDOWN_TIMEOUT_MS', () => {
        const preStop = Number(c.lifecycle.preStop.exec.command[1]);
        const shutdownS = Number(envOf(d).GAN_SHUTDOWN_TIMEOUT_MS) / 1000;
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + shutdownS);
      });

      it('runs non-root on a read-only root filesystem with no capabilities, /tmp on an emptyDir', () => {
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        const tmp = c.volumeMounts.find((v: Any) => v.mountPath === '/tmp');
        expect(pod.volumes.find((v: Any) => v.name === tmp.name).emptyDir).toBeDefined();
        expect(c.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
        expect(c.resources.limits).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
      });
    });
  }

  it('the GPU variant asks for one NVIDIA GPU, runs the cuda image and prefers the CUDA provider', () => {
    expect(container(gpu).resources.limits['nvidia.com/gpu']).toBe(1);
    expect(container(gpu).image).toMatch(/-cuda$/);
    expect(envOf(gpu).GAN_EXECUTION_PROVIDERS).toBe('cuda,cpu');
    expect(envOf(cpu).GAN_EXECUTION_PROVIDERS).toBe('cpu');
    expect(container(cpu).resources.limits['nvidia.com/gpu']).toBeUndefined();
  });

  it('kustomization.yaml lists files that exist; the rest are the documented alternatives', () => {
    const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
    for (const r of k.resources) expect(existsSync(join(dir, r)), r).toBe(true);
    expect(files.filter((f) => !k.resources.includes(f)).sort()).toEqual([
      'deployment-gpu.yaml',
      'hpa-queue-depth.yaml',
    ]);
    expect(k.images).toEqual([{ name: 'gan-serve', newTag: expect.stringMatching(/^\d+\.\d+\.\d+$/) }]);
  });
});
