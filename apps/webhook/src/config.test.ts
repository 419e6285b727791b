import { describe, expect, it } from '@jest/globals';
import { webhookConfigurations } from '@nicpool/manifests';
import { readWebhookConfig, SELF_MANAGED_DEFAULTS } from './config.ts';

const files = { NICPOOL_WEBHOOK_TLS_CERT: '/tls/tls.crt', NICPOOL_WEBHOOK_TLS_KEY: '/tls/tls.key' };

describe('readWebhookConfig', () => {
  it('defaults to files mode, reloading every 10 s', () => {
    expect(readWebhookConfig(files)).toEqual({
      ok: true,
      value: {
        host: '0.0.0.0',
        port: 9443,
        kubeconfig: undefined,
        logLevel: 'info',
        controllerUsers: ['system:serviceaccount:nicpool-system:nicpool-controller'],
        certs: {
          mode: 'files',
          certFile: '/tls/tls.crt',
          keyFile: '/tls/tls.key',
          reloadSeconds: 10,
        },
      },
    });
  });

  it('self-managed: defaults, extra SANs', () => {
    const r = readWebhookConfig({
      NICPOOL_WEBHOOK_CERT_MODE: 'self-managed',
      NICPOOL_WEBHOOK_EXTRA_SANS: '127.0.0.1, ::1,webhook.example',
    });
    expect(r.ok && r.value.certs).toEqual({
      mode: 'self-managed',
      namespace: 'nicpool-system',
      service: 'nicpool-webhook',
      secret: 'nicpool-webhook-tls',
      extraSans: ['127.0.0.1', '::1', 'webhook.example'],
      validatingConfig: 'nicpool-validating',
      mutatingConfig: 'nicpool-mutating',
      checkSeconds: 60,
    });
  });

  it('default configuration names are those libs/manifests generates', () => {
    const [validating, mutating] = webhookConfigurations(() => ({
      url: 'https://x',
      caBundle: '',
    }));
    expect((validating.metadata as { name: string }).name).toBe(
      SELF_MANAGED_DEFAULTS.validatingConfig,
    );
    expect((mutating.metadata as { name: string }).name).toBe(SELF_MANAGED_DEFAULTS.mutatingConfig);
  });

  it('refuses settings of the other mode, and a files mode without files', () => {
    expect(readWebhookConfig({})).toEqual({
      ok: false,
      error: [
        'missing NICPOOL_WEBHOOK_TLS_CERT (required with NICPOOL_WEBHOOK_CERT_MODE=files, the default; or set NICPOOL_WEBHOOK_CERT_MODE=self-managed)',
        'missing NICPOOL_WEBHOOK_TLS_KEY (required with NICPOOL_WEBHOOK_CERT_MODE=files, the default; or set NICPOOL_WEBHOOK_CERT_MODE=self-managed)',
      ],
    });
    expect(readWebhookConfig({ ...files, NICPOOL_WEBHOOK_TLS_SECRET: 'x' })).toEqual({
      ok: false,
      error: [
        'NICPOOL_WEBHOOK_TLS_SECRET is set but only used with NICPOOL_WEBHOOK_CERT_MODE=self-managed (mode is files)',
      ],
    });
    expect(
      readWebhookConfig({
        NICPOOL_WEBHOOK_TLS_CERT: '/tls/tls.crt',
        NICPOOL_WEBHOOK_CERT_MODE: 'self-managed',
        NICPOOL_WEBHOOK_EXTRA_SANS: '127.0.0.1,bad_name',
      }),
    ).toEqual({
      ok: false,
      error: [
        'NICPOOL_WEBHOOK_TLS_CERT is set but NICPOOL_WEBHOOK_CERT_MODE=self-managed serves the certificate from Secret nicpool-system/nicpool-webhook-tls; unset it, or use NICPOOL_WEBHOOK_CERT_MODE=files',
        'NICPOOL_WEBHOOK_EXTRA_SANS: "bad_name" is neither an IP address nor a lowercase DNS name',
      ],
    });
  });

  it('names the variable of a bad mode or name', () => {
    const r = readWebhookConfig({ NICPOOL_WEBHOOK_CERT_MODE: 'auto' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error[0]).toMatch(/^NICPOOL_WEBHOOK_CERT_MODE="auto": /);
    const s = readWebhookConfig({
      NICPOOL_WEBHOOK_CERT_MODE: 'self-managed',
      NICPOOL_WEBHOOK_TLS_SECRET: 'Bad_Name',
    });
    expect(s.ok).toBe(false);
    if (!s.ok) expect(s.error[0]).toMatch(/^NICPOOL_WEBHOOK_TLS_SECRET="Bad_Name": /);
  });
});
