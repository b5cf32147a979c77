import { coreError } from './errors.js';
import type { Command, CommandMetadata } from './messages.js';

/** Every command answers at least with the log position it reached (its consistency token). */
export interface CommandResult {
  readonly position: bigint;
}

/** What a handler knows besides the command: the metadata filled in by the bus. */
export interface CommandContext {
  readonly metadata: CommandMetadata & {
    readonly commandId: string;
    readonly correlationId: string;
    readonly now: Date;
  };
  /** Set by the idempotency middleware when the command carries a key. */
  readonly idempotency?: { readonly key: string; readonly fingerprint: string };
}

export type CommandHandler<C extends Command = Command, R extends CommandResult = CommandResult> = (
  command: C,
  context: CommandContext,
) => Promise<R>;

export type Next = (command: Command, context: CommandContext) => Promise<CommandResult>;

/** Wraps dispatch: validation, authorization, idempotency, retry, metrics, tracing. */
export type CommandMiddleware = (
  command: Command,
  context: CommandContext,
  next: Next,
) => Promise<CommandResult>;

// biome-ignore lint/suspicious/noExplicitAny: a handler map holds handlers of many command types
type AnyHandler = CommandHandler<any, any>;
export type CommandHandlers = Readonly<Record<string, AnyHandler>>;

type CommandOf<H> = H extends (command: infer C, context: CommandContext) => unknown ? C : never;
type ResultOf<H> = H extends (command: never, context: never) => Promise<infer R> ? R : never;
/** Each key of a handler map must be the `type` of the command its handler takes. */
type KeyedHandlers<M> = {
  [K in keyof M]: CommandOf<M[K]> extends { type: infer T }
    ? [K] extends [T]
      ? unknown
      : never
    : unknown;
};

/** The union of commands a handler map accepts. */
export type CommandsOf<M extends CommandHandlers> = { [K in keyof M]: CommandOf<M[K]> }[keyof M];

export interface CommandBus<M extends CommandHandlers> {
  /**
   * Runs the command through the middleware and its handler.
   * @example const { position } = await bus.dispatch({ type: 'AddItem', data: { sku: 'a' } });
   */
  dispatch<C extends CommandsOf<M>>(
    command: C,
    metadata?: CommandMetadata,
  ): Promise<ResultOf<M[C['type']]>>;
  handles(type: string): boolean;
}

export interface CommandBusOptions {
  /** Outermost first. */
  readonly middleware?: readonly CommandMiddleware[];
  /** Clock and id source, so tests can fix them. */
  readonly clock?: () => Date;
  readonly newId?: () => string;
}

/**
 * A typed command bus from a map `type -> handler`; each key must equal its command's `type`.
 * @example
 *   const bus = commandBus({ UpdateProductPrice: updatePrice, AddProduct: addProduct }, { middleware: [retry()] });
 */
export function commandBus<M extends CommandHandlers>(
  handlers: M & NoInfer<KeyedHandlers<M>>,
  options: CommandBusOptions = {},
): CommandBus<M> {
  const clock = options.clock ?? (() => new Date());
  const newId = options.newId ?? (() => globalThis.crypto.randomUUID());
  const terminal: Next = (command, context) => {
    const handler = handlers[command.type] as AnyHandler | undefined;
    if (!handler) throw coreError('UNKNOWN_COMMAND', `No handler for command ${command.type}.`);
    return handler(command, context);
  };
  const chain = (options.middleware ?? []).reduceRight<Next>(
    (next, mw) => (command, context) => mw(command, context, next),
    terminal,
  );
  return {
    handles: (type) => Object.hasOwn(handlers, type),
    async dispatch(command, metadata) {
      const given = { ...command.metadata, ...metadata };
      const commandId = given.commandId ?? newId();
      const context: CommandContext = {
        metadata: {
          ...given,
          commandId,
          correlationId: given.correlationId ?? commandId,
          now: given.now ?? clock(),
        },
      };
      // biome-ignore lint/suspicious/noExplicitAny: the result type is given by the handler map
      return (await chain(command, context)) as any;
    },
  };
}
