import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { CamdError, ErrorCodes } from '../errors.js';
import { AtomicJsonFile } from '../state/persist.js';
import { type Caller, type Permission, isPermission } from './permissions.js';
import { HashQueue } from './hash-queue.js';
import { LOGIN_GUARD_DEFAULTS, LoginGuard, type LoginGuardOptions } from './login-guard.js';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: { N: number; r: number; p: number }) => Promise<Buffer>;

/** The realm of HTTP/RTSP Digest authentication; fixed so that HA1 can be stored instead of the password. */
export const DIGEST_REALM = 'camd';

const SCRYPT = { N: 16384, r: 8, p: 1, len: 32 };

/**
 * What an unknown user's password is checked against: a hash of the same parameters that nothing
 * matches, so that an unknown name costs what a known one does (same queue, same scrypt, same answer).
 */
const NOBODY_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${Buffer.alloc(16, 0x5a).toString('base64')}$${Buffer.alloc(SCRYPT.len).toString('base64')}`;

export interface UserConfig {
  username: string;
  password?: string;
  /** A hash made by `hashPassword` (`scrypt$N$r$p$salt$hash`), instead of a plaintext password. */
  passwordHash?: string;
  permissions: Permission[];
}

interface StoredUser {
  username: string;
  permissions: Permission[];
  /** scrypt hash for Basic/WS-Security plaintext checks. */
  hash: string;
  /** MD5(username:realm:password), what RFC 2617 Digest needs. */
  ha1?: string;
  /** Where the user comes from: the config file or a runtime API (ONVIF CreateUsers). */
  origin: 'config' | 'runtime' | 'bootstrap';
  /** The password sealed with the state dir's key (AES-256-GCM): WS-Security PasswordDigest needs it. */
  sealed?: string;
}

export interface UserView {
  username: string;
  permissions: Permission[];
  origin: StoredUser['origin'];
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.len, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

async function verifyHash(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, key] = parts;
  const expected = Buffer.from(key!, 'base64');
  const got = await scrypt(password, Buffer.from(salt!, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function digestHA1(username: string, password: string, realm = DIGEST_REALM): string {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest('hex');
}

/**
 * The daemon's users. Passwords are checked against scrypt hashes (plus the Digest HA1); users created
 * at run time are persisted in `<stateDir>/users.json`. WS-Security PasswordDigest (what ONVIF clients
 * and NVRs send) needs the password itself, as on every ONVIF camera: persisted users also keep it
 * sealed with a key of the state dir (`secret.key`, mode 0600), so an NVR still logs in after a restart.
 */
export class UserStore {
  private readonly users = new Map<string, StoredUser>();
  private readonly plaintext = new Map<string, string>();
  private readonly file: AtomicJsonFile<{ users: StoredUser[] }> | undefined;
  private readonly verified = new Map<string, { password: string; at: number }>();
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly key: Buffer | undefined;
  private readonly hashes: HashQueue;
  /** Brute-force protection: every login over the network goes through `guard.attempt` (see LoginGuard). */
  readonly guard: LoginGuard;

  private constructor(stateDir: string | undefined, auth: Partial<LoginGuardOptions> = {}) {
    this.file = stateDir ? new AtomicJsonFile(join(stateDir, 'users.json')) : undefined;
    this.key = stateDir ? stateKey(join(stateDir, 'secret.key')) : undefined;
    const options = { ...LOGIN_GUARD_DEFAULTS, ...auth };
    this.hashes = new HashQueue(options.hashConcurrency, options.hashQueue);
    this.guard = new LoginGuard(options, this.hashes, (name) => this.users.has(name));
  }

  /**
   * Loads users from the config and the state dir. With none at all, creates an administrator with a
   * random password, reports it once through `announce`, and stores only its hashes.
   */
  static async open(opts: {
    stateDir?: string;
    configUsers?: UserConfig[];
    announce?: (username: string, password: string) => void;
    /** The config's `auth` block (brute-force protection, hashing queue); defaults in LOGIN_GUARD_DEFAULTS. */
    auth?: Partial<LoginGuardOptions>;
  }): Promise<UserStore> {
    const store = new UserStore(opts.stateDir, opts.auth);
    const persisted = store.file?.readSync()?.users ?? [];
    for (const u of persisted) {
      store.users.set(u.username, u);
      const plain = u.sealed ? store.unseal(u.sealed) : undefined;
      if (plain !== undefined) store.plaintext.set(u.username, plain);
    }
    for (const u of opts.configUsers ?? []) {
      if (!u.password && !u.passwordHash) throw new CamdError(ErrorCodes.CONFIG, `users.${u.username}: needs "password" or "passwordHash"`);
      const bad = u.permissions.find((p) => !isPermission(p));
      if (bad) throw new CamdError(ErrorCodes.CONFIG, `users.${u.username}.permissions: unknown permission "${bad}"`);
      store.users.set(u.username, {
        username: u.username,
        permissions: [...u.permissions],
        hash: u.passwordHash ?? (await hashPassword(u.password!)),
        ha1: u.password ? digestHA1(u.username, u.password) : undefined,
        origin: 'config',
      });
      if (u.password) store.plaintext.set(u.username, u.password);
    }
    if (store.users.size === 0) {
      const password = randomBytes(12).toString('base64url');
      store.users.set('admin', {
        username: 'admin',
        permissions: ['Admin', 'Media_rw'],
        hash: await hashPassword(password),
        ha1: digestHA1('admin', password),
        origin: 'bootstrap',
        sealed: store.seal(password),
      });
      store.plaintext.set('admin', password);
      await store.save();
      opts.announce?.('admin', password);
    }
    return store;
  }

  /**
   * Checks a plaintext password (Basic, WS-Security PasswordText). Successful checks are cached briefly:
   * scrypt is slow on purpose. The scrypt runs through a bounded queue: when it is full this throws
   * `CAMD_ERR_AUTH_BUSY` at once, having hashed nothing. An unknown user costs what a known one does.
   * Network front ends call it through `guard.attempt`, which decides whether it runs at all.
   */
  async verify(username: string, password: string): Promise<Caller | undefined> {
    const u = this.users.get(username);
    const cached = u ? this.verified.get(username) : undefined;
    if (u && cached && Date.now() - cached.at < 60_000 && safeEqual(cached.password, password)) return this.callerOf(u);
    // A burst of requests with the same credentials (a dashboard reconnecting, an NVR's parallel
    // polls) shares one scrypt instead of queueing hundreds on libuv's four threads.
    const key = `${username}\0${password}`;
    let check = this.checking.get(key);
    if (!check) {
      const hash = u?.hash ?? NOBODY_HASH;
      check = this.hashes.run(() => verifyHash(password, hash)).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    if (!(await check) || !u || this.users.get(username) !== u) return undefined;
    this.verified.set(username, { password, at: Date.now() });
    return this.callerOf(u);
  }

  /** Whether a user of this name exists. */
  has(username: string): boolean {
    return this.users.has(username);
  }

  /** HA1 for RFC 2617 Digest with realm `DIGEST_REALM`, or undefined when unknown. */
  ha1(username: string): string | undefined {
    return this.users.get(username)?.ha1;
  }

  /** The plaintext password when this run knows it (WS-Security PasswordDigest needs it). */
  plaintextPassword(username: string): string | undefined {
    return this.plaintext.get(username);
  }

  caller(username: string): Caller | undefined {
    const u = this.users.get(username);
    return u ? this.callerOf(u) : undefined;
  }

  list(): UserView[] {
    return [...this.users.values()].map((u) => ({ username: u.username, permissions: [...u.permissions], origin: u.origin }));
  }

  async create(username: string, password: string, permissions: Permission[]): Promise<void> {
    if (this.users.has(username)) throw new CamdError(ErrorCodes.USER_EXISTS, `user "${username}" exists`);
    this.users.set(username, {
      username,
      permissions,
      hash: await hashPassword(password),
      ha1: digestHA1(username, password),
      origin: 'runtime',
      sealed: this.seal(password),
    });
    this.plaintext.set(username, password);
    await this.save();
  }

  async update(username: string, changes: { password?: string; permissions?: Permission[] }): Promise<void> {
    const u = this.users.get(username);
    if (!u) throw new CamdError(ErrorCodes.USER_UNKNOWN, `no user "${username}"`);
    if (changes.password !== undefined) {
      u.hash = await hashPassword(changes.password);
      u.ha1 = digestHA1(username, changes.password);
      u.sealed = this.seal(changes.password);
      this.plaintext.set(username, changes.password);
      this.verified.delete(username);
    }
    if (changes.permissions) u.permissions = [...changes.permissions];
    await this.save();
  }

  async delete(username: string): Promise<void> {
    if (!this.users.delete(username)) throw new CamdError(ErrorCodes.USER_UNKNOWN, `no user "${username}"`);
    this.plaintext.delete(username);
    this.verified.delete(username);
    await this.save();
  }

  private seal(password: string): string | undefined {
    if (!this.key) return undefined;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([c.update(password, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), data]).toString('base64');
  }

  /** Undefined when it does not open (another state dir's key, a damaged file): digest login then fails. */
  private unseal(sealed: string): string | undefined {
    if (!this.key) return undefined;
    try {
      const b = Buffer.from(sealed, 'base64');
      const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, 12));
      d.setAuthTag(b.subarray(12, 28));
      return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  private callerOf(u: StoredUser): Caller {
    return { username: u.username, permissions: [...u.permissions] };
  }

  private async save(): Promise<void> {
    // Config users are re-read from the config on every start; only the others are persisted.
    await this.file?.write({ users: [...this.users.values()].filter((u) => u.origin !== 'config') });
  }
}

/** The state dir's 32-byte sealing key, created once (readable by the daemon's user only). */
function stateKey(path: string): Buffer {
  try {
    const k = readFileSync(path);
    if (k.length === 32) return k;
  } catch {
    // created below
  }
  const k = randomBytes(32);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, k, { mode: 0o600 });
  return k;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
