// Preloaded with `node --import ./loopback.mjs`: every server the process starts listens on
// 127.0.0.1 only, whatever host the program asked for, and reports its port on stderr as
// "agentd-test: listening on 127.0.0.1:PORT" (so PORT=0 picks a free one).
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (args.length > 0 && typeof args[0] === 'object' && args[0] !== null) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  } else if (args.length > 0 && (typeof args[0] === 'number' || /^\d+$/.test(String(args[0])))) {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    args = [Number(args[0]), '127.0.0.1', ...(cb ? [cb] : [])];
  }
  this.once('listening', () => {
    const a = this.address();
    if (a && typeof a === 'object') console.error(`agentd-test: listening on 127.0.0.1:${a.port}`);
  });
  return listen.apply(this, args);
};
