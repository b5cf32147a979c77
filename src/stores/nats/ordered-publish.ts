import type { JetStreamClient, MsgHdrs, PubAck } from 'nats';

/** One message to publish. */
export interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly msgId: string;
  readonly headers: MsgHdrs;
}

/**
 * Publishes `items` into a stream in order, `window` at a time, and calls `onAck` for each one in
 * order as it is known to be stored. Order without gaps holds even when a connection drops with
 * messages in flight: within a window each message carries `Nats-Expected-Last-Msg-Id` = its
 * predecessor's id, so JetStream stores it only right after its predecessor, and the first
 * message of a window is sent only once everything before it was acknowledged. A broken chain
 * (a lost message, or another writer, such as a replay, in between) restarts from the first
 * unacknowledged message; what was stored anyway comes back as a duplicate (same message id).
 * Throws when the first message of a window fails (NATS down): the caller backs off and calls
 * again with the rest.
 */
export async function publishInOrder(
  js: JetStreamClient,
  items: readonly Outgoing[],
  onAck: (index: number, ack: PubAck) => void,
  window = 64,
): Promise<void> {
  let next = 0;
  while (next < items.length) {
    const batch = items.slice(next, next + window);
    const results = await Promise.allSettled(
      batch.map((m, j) =>
        js.publish(m.subject, m.data, {
          msgID: m.msgId,
          headers: m.headers,
          ...(j > 0 ? { expect: { lastMsgID: (batch[j - 1] as Outgoing).msgId } } : {}),
        }),
      ),
    );
    let acked = 0;
    for (const r of results) {
      if (r.status !== 'fulfilled') break;
      onAck(next + acked, r.value);
      acked++;
    }
    if (acked === 0) throw (results[0] as PromiseRejectedResult).reason;
    next += acked;
  }
}
