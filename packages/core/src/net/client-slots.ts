/** How many clients of a kind (RTSP sessions, event streams, MJPEG clients) one user, and everyone, may hold. */
export interface SlotLimits {
  perUser: number;
  total: number;
  /** The option names, for the refusal's message (`http.limits.maxMjpegClientsPerUser`). */
  perUserOption: string;
  totalOption: string;
}

export type SlotGrant = { ok: true; release(): void } | { ok: false; message: string };

/**
 * Counts the clients of one kind by user name against a per-user and a total cap, so that one
 * account (or a leaked password) cannot take every slot of a transport. `release()` is idempotent.
 */
export class ClientSlots {
  private readonly byUser = new Map<string, number>();
  private total = 0;

  constructor(
    /** What is counted, plural (`MJPEG clients`). */
    private readonly what: string,
    private readonly limits: SlotLimits,
  ) {}

  acquire(user: string): SlotGrant {
    const l = this.limits;
    const mine = this.byUser.get(user) ?? 0;
    if (mine >= l.perUser) return { ok: false, message: `${user} has ${mine} ${this.what} open, the limit per user is ${l.perUser} (${l.perUserOption})` };
    if (this.total >= l.total) return { ok: false, message: `${this.total} ${this.what} are open, the limit is ${l.total} (${l.totalOption})` };
    this.byUser.set(user, mine + 1);
    this.total++;
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.total--;
        const n = (this.byUser.get(user) ?? 1) - 1;
        if (n > 0) this.byUser.set(user, n);
        else this.byUser.delete(user);
      },
    };
  }

  count(user?: string): number {
    return user === undefined ? this.total : (this.byUser.get(user) ?? 0);
  }
}
