/** One server-sent event. `id` is the stream's last event id when it was dispatched (it carries over). */
export interface ServerSentEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * The events of a text/event-stream body, as the HTML standard parses them: lines end in CRLF, LF or CR;
 * `:` starts a comment (keep-alives); `data` lines join with LF; an empty line dispatches the event, unless
 * it has no data. `retry` is ignored (the caller decides when to reconnect).
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  // A TextDecoder rather than a TextDecoderStream: its typings agree under both Node's and the DOM's libs.
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done && !buffer.endsWith('\r')) return;
      buffer += value ? decoder.decode(value, { stream: true }) : decoder.decode();
      for (;;) {
        const end = /\r\n|\r|\n/.exec(buffer);
        // A CR at the end of what came so far may be the first half of a CRLF, unless nothing more comes.
        if (!end || (end[0] === '\r' && end.index === buffer.length - 1 && !done)) break;
        const line = buffer.slice(0, end.index);
        buffer = buffer.slice(end.index + end[0].length);
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const text = colon === -1 ? '' : line.slice(colon + (line[colon + 1] === ' ' ? 2 : 1));
        if (field === 'data') data.push(text);
        else if (field === 'event') event = text;
        else if (field === 'id' && !text.includes('\0')) id = text;
      }
      if (done) return;
    }
  } finally {
    // Stops the download when the caller stops reading (a final event, an abort).
    await reader.cancel().catch(() => {});
  }
}
