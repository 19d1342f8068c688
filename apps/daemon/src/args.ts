export interface CliArgs {
  command: 'run' | 'plugins' | 'probe' | 'hash-password' | 'bundle' | 'tls-fingerprint' | 'help' | 'version';
  /** `camd probe --json`: the report as JSON instead of text. */
  json?: boolean;
  out?: string;
  plugins?: string[];
  config?: string;
  stateDir?: string;
  /** `pretty` (human-readable), `json` (one object a line), or `auto`: pretty on a TTY, JSON otherwise. */
  logFormat: LogFormat;
  rest: string[];
}

export type LogFormat = 'auto' | 'json' | 'pretty';

export const USAGE = `usage: camd [run] [--config FILE] [--state-dir DIR] [--log-format json|pretty]
       camd plugins [--config FILE]      the plugins the config names: installed or not (and how to install)
       camd probe [--config FILE] [--json]
                                         cameras, encoders (with a trial encode each) and the source
                                         path and encoder every stream of the config would get
       camd hash-password                read a password on stdin, print a "passwordHash" for the config
       camd tls fingerprint [--config FILE] [--state-dir DIR]
                                         the TLS certificate's SHA-256 fingerprint and public key pin
       camd bundle --out DIR --plugins @camd/plugin-rtsp[,…]
                                         a deployable daemon folder with core and only these plugins
       camd --version | --help
options:
  -c, --config FILE       config file, JSON (.json) or YAML (.yaml, .yml) (default: the embedded test-pattern config)
  --state-dir DIR         settings, users and secrets (default: ./.state)
  --log-format FORMAT     json (one object a line) or pretty (human-readable); default: pretty on a terminal, else json
  -h, --help              this text
  --version               the version of @camd/daemon
environment: CAMD_CONFIG (config file), CAMD_STATE_DIR (state directory), CAMD_LOG_LEVEL, CAMD_LOG_FORMAT`;

/** Parses argv; throws an Error with a one-line message on unknown options. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  const out: CliArgs = { command: 'run', config: env.CAMD_CONFIG || undefined, stateDir: env.CAMD_STATE_DIR || undefined, logFormat: 'auto', rest: [] };
  if (env.CAMD_LOG_FORMAT) out.logFormat = logFormat(env.CAMD_LOG_FORMAT, 'CAMD_LOG_FORMAT');
  const args = [...argv];
  if (args[0] && !args[0].startsWith('-')) {
    const c = args.shift()!;
    if (c === 'tls') {
      const sub = args.shift();
      if (sub !== 'fingerprint') throw new Error(`unknown command "tls ${sub ?? ''}" (camd tls fingerprint)\n${USAGE}`);
      out.command = 'tls-fingerprint';
    } else if (c !== 'run' && c !== 'plugins' && c !== 'probe' && c !== 'hash-password' && c !== 'bundle') throw new Error(`unknown command "${c}"\n${USAGE}`);
    else out.command = c;
  }
  while (args.length) {
    const a = args.shift()!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? args.shift();
      if (!v) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--config':
      case '-c':
        out.config = value();
        break;
      case '--state-dir':
        out.stateDir = value();
        break;
      case '--log-format':
        out.logFormat = logFormat(value(), '--log-format');
        break;
      case '--out':
        out.out = value();
        break;
      case '--plugins':
        out.plugins = value()
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
        break;
      case '--json':
        out.json = true;
        break;
      case '--help':
      case '-h':
        out.command = 'help';
        break;
      case '--version':
        out.command = 'version';
        break;
      default:
        throw new Error(`unknown option "${a}"\n${USAGE}`);
    }
  }
  return out;
}

function logFormat(v: string, from: string): LogFormat {
  if (v === 'json' || v === 'pretty' || v === 'auto') return v;
  throw new Error(`${from} must be json, pretty or auto, not "${v}"\n${USAGE}`);
}
