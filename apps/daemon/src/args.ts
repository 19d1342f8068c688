export interface CliArgs {
  command: 'run' | 'plugins' | 'hash-password' | 'bundle' | 'help' | 'version';
  out?: string;
  plugins?: string[];
  config?: string;
  stateDir?: string;
  rest: string[];
}

export const USAGE = `usage: camd [run] [--config FILE] [--state-dir DIR]
       camd plugins [--config FILE]      list the plugins the config loads
       camd hash-password                read a password on stdin, print a "passwordHash" for the config
       camd bundle --out DIR --plugins @camd/plugin-rtsp[,…]
                                         a deployable daemon folder with core and only these plugins
       camd --version | --help
environment: CAMD_CONFIG (config file), CAMD_STATE_DIR (state directory), CAMD_LOG_LEVEL`;

/** Parses argv; throws an Error with a one-line message on unknown options. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  const out: CliArgs = { command: 'run', config: env.CAMD_CONFIG || undefined, stateDir: env.CAMD_STATE_DIR || undefined, rest: [] };
  const args = [...argv];
  if (args[0] && !args[0].startsWith('-')) {
    const c = args.shift()!;
    if (c !== 'run' && c !== 'plugins' && c !== 'hash-password' && c !== 'bundle') throw new Error(`unknown command "${c}"\n${USAGE}`);
    out.command = c;
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
      case '--out':
        out.out = value();
        break;
      case '--plugins':
        out.plugins = value().split(',').map((p) => p.trim()).filter(Boolean);
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
