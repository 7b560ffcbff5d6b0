import { describe, expect, it } from 'vitest';
import { readServerSentEvents, type ServerSentEvent } from './sse.ts';

/** A body that arrives in these chunks. */
function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function events(stream: ReadableStream<Uint8Array>): Promise<ServerSentEvent[]> {
  const all: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(stream)) all.push(event);
  return all;
}

describe('readServerSentEvents', () => {
  it('reads events, their ids and multi-line data, skipping comments', async () => {
    expect(
      await events(body(': keep-alive\n\nevent: status\nid: "a"\ndata: {"x":1}\n\ndata: one\ndata:two\n\n')),
    ).toEqual([
      { event: 'status', data: '{"x":1}', id: '"a"' },
      // The id carries over to later events; an event without `event` is a message.
      { event: 'message', data: 'one\ntwo', id: '"a"' },
    ]);
  });

  it('takes lines split anywhere across chunks, with CRLF, LF or CR endings', async () => {
    expect(await events(body('event: sta', 'tus\r', '\ndata: {"a"', ':2}\r\n\r', '\nid: 7\rdata: x\r\r'))).toEqual([
      { event: 'status', data: '{"a":2}', id: undefined },
      { event: 'message', data: 'x', id: '7' },
    ]);
  });

  it('drops an event with no data, and one the stream ends in the middle of', async () => {
    expect(await events(body('event: status\n\nid: 1\ndata: {"a"'))).toEqual([]);
  });

  it('stops reading the body when the reader stops', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: first\n\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const event of readServerSentEvents(stream)) {
      expect(event.data).toBe('first');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
