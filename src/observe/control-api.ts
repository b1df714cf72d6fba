/**
 * POST /api/tunnels/NAME/{start,stop,restart}: the listener's only write endpoints. Off unless a
 * control token is configured; the request must carry it as "Authorization: Bearer TOKEN"
 * (401 without, 403 with a wrong one), compared in constant time. A header — never a cookie or
 * a query parameter — so another web site cannot make a browser send it (a cross-origin
 * request with an Authorization header needs a CORS preflight, which is never allowed here),
 * and it stays out of access logs and browser history.
 */
import { tokenMatches } from '../config/control-settings.js';
import { CONTROL_ACTIONS, type ControlAction, type ControlResult } from '../supervisor/control.js';

export const CONTROL_PATH = /^\/api\/tunnels\/([^/]+)\/([a-z]+)$/;

export interface ControlReply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface ControlEndpoint {
  token: string;
  act(name: string, action: ControlAction): Promise<ControlResult>;
}

/** The answer to a POST on `path`, or undefined when the path is not a control path. */
export async function controlReply(path: string, authorization: string | undefined, control: ControlEndpoint | undefined): Promise<ControlReply | undefined> {
  const m = CONTROL_PATH.exec(path);
  if (!m) return undefined;
  const action = m[2] as ControlAction;
  if (!CONTROL_ACTIONS.includes(action)) return { status: 404, body: { error: `no such action "${m[2]}": expected start, stop or restart` } };
  if (!control) {
    return { status: 403, body: { error: 'control is turned off: set AUTOTUNNEL_CONTROL_TOKEN_FILE (or control.token_file in the tunnels file) to a file holding a token, and restart autotunnel' } };
  }
  const given = /^Bearer (.+)$/i.exec(authorization?.trim() ?? '')?.[1];
  if (given === undefined) {
    return { status: 401, body: { error: 'the control token is missing: send it as "Authorization: Bearer TOKEN"' }, headers: { 'www-authenticate': 'Bearer realm="autotunnel"' } };
  }
  if (!tokenMatches(given, control.token)) return { status: 403, body: { error: 'wrong control token' } };
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    return { status: 404, body: { error: 'no such tunnel' } };
  }
  const result = await control.act(name, action);
  return { status: result.status, body: result.status === 200 ? { ok: true, tunnel: name, action, message: result.message, state: result.state } : { error: result.message } };
}
