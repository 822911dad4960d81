/** Every key of a JSON value (nested too) that is not snake_case: the CLI's JSON has none. */
export function camelKeysIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(camelKeysIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => [
    ...(/[A-Z]/.test(key) ? [key] : []),
    ...camelKeysIn(v),
  ]);
}
