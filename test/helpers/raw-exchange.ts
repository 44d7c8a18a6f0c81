/**
 * Talk raw HTTP to a port: for requests no HTTP client would send (malformed, slow, oversized headers).
 */
import { connect, type Socket } from 'node:net';

/** Open a socket to `port`, write `text` as it is, and resolve with all the server sent once it closed the connection. */
export function rawExchange(port: number, text: string): Promise<{ reply: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (d) => {
      reply += d.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ reply, socket }));
  });
}
