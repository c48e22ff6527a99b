/**
 * `rampart completion bash|zsh`: shell completion scripts generated from the command table,
 * so every command, subcommand, flag and enumerated value (event types, shells) completes, and
 * a new flag completes without anyone editing a script.
 */
import type { OptionSpec } from './args.ts';
import { type Command, type Form, subcommandsOf } from './command.ts';

/** One place on the command line: the words before it, what flags it takes, what its first argument may be. */
interface Place {
  key: string;
  flags: Array<[string, OptionSpec]>;
  words: readonly string[];
}

/** Every place of the command table: `keys` offers subcommands, `keys create` flags, and so on. */
function places(commands: readonly Command[]): Place[] {
  const placeOf = (key: string, form: Form): Place => ({
    key,
    flags: [...Object.entries(form.options), ['help', { type: 'boolean' }]],
    words: form.choices ?? [],
  });
  return commands.flatMap((command) => {
    const subs = subcommandsOf(command);
    if (subs === undefined) return [placeOf(command.name, command.form as Form)];
    return [
      { key: command.name, flags: [['help', { type: 'boolean' }]], words: Object.keys(subs) },
      ...Object.entries(subs).map(([sub, form]) => placeOf(`${command.name} ${sub}`, form)),
    ];
  });
}

/** Single-quoted for a shell script. */
const q = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The bash script (`eval "$(rampart completion bash)"`, or saved into bash-completion's folder). */
export function bashCompletion(commands: readonly Command[]): string {
  const cases = places(commands)
    .map((place) => {
      const values = place.flags
        .filter(([, spec]) => spec.type === 'string')
        .map(([name, spec]) => {
          const action = spec.choices
            ? `COMPREPLY=($(compgen -W ${q(spec.choices.join(' '))} -- "$cur"))`
            : spec.complete === 'directory'
              ? 'COMPREPLY=($(compgen -d -- "$cur"))'
              : spec.complete === 'file'
                ? 'COMPREPLY=($(compgen -f -- "$cur"))'
                : 'COMPREPLY=()';
          return `        --${name}) ${action}; return ;;`;
        });
      const flags = place.flags.map(([name]) => `--${name}`).join(' ');
      return [
        `    ${q(place.key)})`,
        ...(values.length > 0 ? ['      case "$prev" in', ...values, '      esac'] : []),
        `      COMPREPLY=($(compgen -W ${q(`${place.words.join(' ')} ${flags}`.trim())} -- "$cur"))`,
        '      ;;',
      ].join('\n');
    })
    .join('\n');
  const names = commands.map((c) => c.name).join(' ');
  const withSubs = commands.filter((c) => subcommandsOf(c) !== undefined).map((c) => c.name);
  return `# bash completion for rampart. Load it with: eval "$(rampart completion bash)"
# (or save it as /etc/bash_completion.d/rampart).
_rampart() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" key
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W ${q(`${names} --help --version`)} -- "$cur"))
    return
  fi
  key="\${COMP_WORDS[1]}"
  case "$key" in
    ${withSubs.length > 0 ? withSubs.join('|') : '__none__'})
      if [[ $COMP_CWORD -gt 2 ]]; then key="$key \${COMP_WORDS[2]}"; fi
      ;;
  esac
  case "$key" in
${cases}
  esac
}
complete -o default -F _rampart rampart
`;
}

/** The zsh script (`source <(rampart completion zsh)`, or saved as `_rampart` on $fpath). */
export function zshCompletion(commands: readonly Command[]): string {
  const described = commands.map((c) => `    ${q(`${c.name}:${c.summary.replace(/:/g, '\\:')}`)}`).join('\n');
  const cases = places(commands)
    .map((place) => {
      const values = place.flags
        .filter(([, spec]) => spec.type === 'string')
        .map(([name, spec]) => {
          const action = spec.choices
            ? `compadd -- ${spec.choices.join(' ')}`
            : spec.complete === 'directory'
              ? '_files -/'
              : spec.complete === 'file'
                ? '_files'
                : 'return 0';
          return `        --${name}) ${action}; return ;;`;
        });
      const words = `${place.words.join(' ')} ${place.flags.map(([name]) => `--${name}`).join(' ')}`.trim();
      return [
        `    ${q(place.key)})`,
        ...(values.length > 0 ? ['      case "$prev" in', ...values, '      esac'] : []),
        `      compadd -- ${words}`,
        '      ;;',
      ].join('\n');
    })
    .join('\n');
  const withSubs = commands.filter((c) => subcommandsOf(c) !== undefined).map((c) => c.name);
  return `#compdef rampart
# zsh completion for rampart. Load it with: source <(rampart completion zsh)
# (or save it as _rampart in a directory on $fpath).
_rampart() {
  local prev="\${words[CURRENT-1]}" key
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'rampart command' commands
    return
  fi
  key="\${words[2]}"
  case "$key" in
    ${withSubs.length > 0 ? withSubs.join('|') : '__none__'})
      if (( CURRENT > 3 )); then key="$key \${words[3]}"; fi
      ;;
  esac
  case "$key" in
${cases}
  esac
}
if [[ "\${funcstack[1]}" == _rampart ]]; then _rampart "$@"; else compdef _rampart rampart; fi
`;
}
