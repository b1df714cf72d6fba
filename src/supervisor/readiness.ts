/**
 * When a tunnel counts as up: every forward works. Pure: fed the progress ssh reports (from its
 * -v lines, see ssh/stderr.ts), it says what to do next; the Tunnel does the probing.
 *
 * - A local forward (-L, -D, a Unix socket) counts once ssh got past forwarding setup
 *   ("Entering interactive session") with every listener announced — "Local forwarding
 *   listening" is printed before bind(), so only setup's end proves the bind — and then the
 *   listeners accept a connection (probe-local).
 * - A remote forward (-R) counts once the server confirmed it; with ExitOnForwardFailure ssh
 *   confirms each ("remote forward success") and then all ("forwarding_success"). A port-0
 *   forward is only useful once its allocated port is known.
 */
/*
 * - Whoever answers on the server's address can put any line on ssh's stderr before the host key
 *   is verified (a SSH_MSG_DEBUG with newlines: ssh prints them as they are). With a ready marker
 *   (see ssh/argv.ts), lines saying a forward works count only after ssh has named it.
 */
import type { Forward } from '../config/spec.js';
import type { SshProgress } from '../ssh/stderr.js';

/** waiting: not yet; probe-local: check that the local listeners accept (once); ready: up. */
export type ReadinessStep = 'waiting' | 'probe-local' | 'ready';

export class ForwardReadiness {
  readonly localForwards: Forward[];
  /** Ports the server allocated for port-0 remote forwards, in order. */
  readonly allocated: number[] = [];
  private readonly remoteCount: number;
  private readonly portZeroCount: number;
  private readonly listening = new Set<number | string>();
  private sessionStarted = false;
  private remoteConfirmed = 0;
  private allRemoteConfirmed = false;
  private localConfirmed: boolean;
  private localProbeAsked = false;

  /** False until ssh names the ready marker (true without one). */
  private markerSeen: boolean;

  /**
   * `extraRemoteForwards`: the user's extra ssh options add -R forwards we cannot count.
   * `readyMarker`: the socket path of ssh's first local forward, which no peer can know.
   */
  constructor(forwards: Forward[], private readonly extraRemoteForwards: boolean, private readonly readyMarker?: string) {
    this.markerSeen = readyMarker === undefined;
    this.localForwards = forwards.filter((f) => f.kind !== 'remote');
    const remote = forwards.filter((f) => f.kind === 'remote');
    this.remoteCount = remote.length;
    this.portZeroCount = remote.filter((f) => f.bindPort === 0 && !f.bindSocket).length;
    this.localConfirmed = this.localForwards.length === 0;
  }

  observe(p: SshProgress): ReadinessStep {
    if (p.type === 'local_listening_path' && p.path === this.readyMarker) {
      this.markerSeen = true;
      return this.step();
    }
    if (!this.markerSeen) return 'waiting';
    switch (p.type) {
      case 'local_listening':
        this.listening.add(p.port);
        break;
      case 'local_listening_path':
        this.listening.add(p.path);
        break;
      case 'session_started':
        this.sessionStarted = true;
        break;
      case 'remote_forward_ok':
        this.remoteConfirmed++;
        break;
      case 'remote_port_allocated':
        this.allocated.push(p.port);
        break;
      case 'all_forwards_ok':
        this.allRemoteConfirmed = true;
        break;
      default:
        break;
    }
    return this.step();
  }

  /** Whether ssh's lines are its own yet (see the ready marker). */
  get trusted(): boolean {
    return this.markerSeen;
  }

  /** The Tunnel's probe found every local listener accepting. */
  confirmLocal(): ReadinessStep {
    this.localConfirmed = true;
    return this.step();
  }

  private step(): ReadinessStep {
    if (!this.localConfirmed) {
      const allListening = this.localForwards.every((f) => this.listening.has(f.bindSocket ?? f.bindPort));
      if (allListening && this.sessionStarted && !this.localProbeAsked) {
        this.localProbeAsked = true;
        return 'probe-local';
      }
      return 'waiting';
    }
    const allocatedDone = this.allocated.length >= this.portZeroCount;
    const remoteDone = this.extraRemoteForwards ? this.allRemoteConfirmed : this.allRemoteConfirmed || this.remoteConfirmed >= this.remoteCount;
    return allocatedDone && remoteDone ? 'ready' : 'waiting';
  }
}
