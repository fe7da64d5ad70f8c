/**
 * The name table of a spec-constant object (`{ dfuIDLE: 2, … }` → `{ 2: 'dfuIDLE', … }`), for logs
 * and messages: the constants stay spelled as the spec spells them and the reverse map is derived.
 */
export function nameTable<T extends Record<string, number>>(constants: T): Readonly<Record<number, keyof T & string>> {
  return Object.fromEntries(Object.entries(constants).map(([k, v]) => [v, k])) as Record<number, keyof T & string>;
}
