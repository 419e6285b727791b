/**
 * Reads an app's configuration once, from environment variables, against one TypeBox
 * schema from which the config type is derived. Only each app's `main.ts` passes
 * `process.env` here; everything else receives the validated config object.
 */
import type { TObject, Static } from 'typebox';
import Value from 'typebox/value';
import { err, ok, type Result } from '@nicpool/result';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Maps each config field to the environment variable it is read from, converts strings to
 * the schema's types, applies defaults and validates. Errors name the variable and the rule.
 */
export function loadConfig<S extends TObject>(
  schema: S,
  env: Env,
  vars: { readonly [K in keyof Static<S>]-?: string },
): Result<Static<S>, string[]> {
  const raw: Record<string, unknown> = {};
  for (const [field, name] of Object.entries<string>(vars)) {
    const v = env[name];
    if (v !== undefined && v !== '') raw[field] = v;
  }
  const value = Value.Default(schema, Value.Convert(schema, raw));
  if (Value.Check(schema, value)) return ok(value);
  const byField: Record<string, string> = vars;
  const errors = [...Value.Errors(schema, value)].map((e) => {
    if (e.keyword === 'required') {
      const missing = (e.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      return `missing ${missing.map((f) => byField[f] ?? f).join(', ')}`;
    }
    const field = e.instancePath.split('/')[1] ?? '';
    const name = byField[field] ?? field;
    return `${name}=${JSON.stringify(env[name] ?? '')}: ${e.message}`;
  });
  return err(errors);
}

/** Formats config errors for a start-up failure message. */
export function describeConfigErrors(app: string, errors: readonly string[]): string {
  return `${app}: invalid configuration:\n${errors.map((e) => `  - ${e}`).join('\n')}`;
}
