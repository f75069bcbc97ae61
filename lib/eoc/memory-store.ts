/**
 * auth()'s default session store when the app gives none: sessions in this process's memory, each gone
 * once its cookie expires (or, for a cookie without expiry, `ttlMs` after its last use), so memory stays
 * bounded. One process only: an app with several instances needs a shared store (`session.store`).
 */
import session from 'express-session';
import type { SessionData } from 'express-session';

type Callback = (err?: unknown, data?: SessionData | null) => void;

/** Expired sessions are swept at most this often (on a write). */
const SWEEP_EVERY_MS = 60_000;

export class MemoryStore extends session.Store {
  readonly #sessions = new Map<string, { json: string; expiresAt: number }>();
  readonly #ttlMs: number;
  #sweptAt = Date.now();

  constructor(options: { ttlMs: number }) {
    super();
    this.#ttlMs = options.ttlMs;
  }

  override get(sid: string, callback: Callback): void {
    const entry = this.#sessions.get(sid);
    if (entry && entry.expiresAt <= Date.now()) this.#sessions.delete(sid);
    const live = entry && entry.expiresAt > Date.now() ? entry : undefined;
    callback(undefined, live ? (JSON.parse(live.json) as SessionData) : null);
  }

  override set(sid: string, data: SessionData, callback?: (err?: unknown) => void): void {
    this.#sessions.set(sid, { json: JSON.stringify(data), expiresAt: this.#expiry(data) });
    this.#sweep();
    callback?.();
  }

  override touch(sid: string, data: SessionData, callback?: () => void): void {
    const entry = this.#sessions.get(sid);
    if (entry) entry.expiresAt = this.#expiry(data);
    callback?.();
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.#sessions.delete(sid);
    callback?.();
  }

  /** How many sessions are held (expired ones included until the next sweep). */
  override length(callback: (err: unknown, length?: number) => void): void {
    callback(undefined, this.#sessions.size);
  }

  #expiry(data: SessionData): number {
    const expires = data.cookie?.expires;
    const at = expires ? new Date(expires).getTime() : Number.NaN;
    return Number.isFinite(at) ? at : Date.now() + this.#ttlMs;
  }

  #sweep(): void {
    const now = Date.now();
    if (now - this.#sweptAt < SWEEP_EVERY_MS) return;
    this.#sweptAt = now;
    for (const [sid, entry] of this.#sessions) if (entry.expiresAt <= now) this.#sessions.delete(sid);
  }
}
