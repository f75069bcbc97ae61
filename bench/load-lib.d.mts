/** Types of bench/load-lib.mjs, for __tests__/bench-load-lib.test.ts. */
export interface LatencySummary {
  n: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}
export interface Calls {
  total: number;
  by: Record<string, number>;
}
export type Step = 'login' | 'page' | 'token' | 'flood';

export function percentile(sorted: ArrayLike<number>, p: number): number;
export function summarize(values: Iterable<number>): LatencySummary;
export function parseInfo(text: string): Record<string, string>;
export function commandCalls(text: string): Record<string, number>;
export const DRIVER_COMMANDS: Set<string>;
export function diffCalls(before: Record<string, number>, after: Record<string, number>): Calls;
export function addCalls(a: Calls, b: Calls): Calls;
export function perOp(calls: Calls, ops: number, digits?: number): string;
export function parseKeyspace(text: string): Record<number, { keys: number; expires: number }>;
export function slope(points: Array<{ x: number; y: number }>): number | null;
export function roundRobin<T>(items: T[]): () => T;
export function cycle(options: { pages: number; refreshAfter?: number }): Step[];
export const APP_REQUESTS: Record<Step, number>;
export function classifyError(step: string, err: unknown): string;
export function shuffled<T>(xs: T[], random?: () => number): T[];
export function splitEvenly(total: number, turns: number): number[];
