/**
 * Which of ssh's prompts autotunnel's askpass helper answers. Only what it was given a secret
 * for: a key's passphrase (for ssh-keygen and ssh-add, never for ssh), or a password — ssh's own
 * password prompt and a keyboard-interactive "Password:". Everything else (a host-key
 * confirmation, a one-time code, a password change, a retry after a wrong secret) is refused,
 * never answered: the prompt texts are OpenSSH 9.x's (sshconnect2.c, ssh-add.c, sshkey.c).
 */

export type AskpassMode = 'passphrase' | 'password';

export type PromptDecision = { answer: true } | { answer: false; reason: string; wrongSecret?: boolean };

/** "user@host's password: " (password method). */
const PASSWORD_PROMPT = /^\S+@\S+'s password: ?$/;
/** "(user@host) Password: " — keyboard-interactive through PAM; the prefix is ssh's, since 8.4. */
const KBDINT_PASSWORD_PROMPT = /^(?:\([^()\s]+\) )?Password: ?$/;
/** ssh-add: "Enter passphrase for FILE: "; ssh-keygen -y: "Enter passphrase: ". ssh's own prompt says "for key '…'". */
const PASSPHRASE_PROMPT = /^Enter passphrase(?: for (?!key ').+)?: ?$/;
/** ssh-add asks again after a wrong one. */
const RETRY_PROMPT = /^Bad passphrase, try again/;

export function decidePrompt(prompt: string, mode: AskpassMode): PromptDecision {
  if (mode === 'passphrase') {
    if (RETRY_PROMPT.test(prompt)) return { answer: false, reason: 'the passphrase was wrong', wrongSecret: true };
    if (PASSPHRASE_PROMPT.test(prompt)) return { answer: true };
    return { answer: false, reason: 'autotunnel only answers the passphrase prompt of the key it adds to its agent' };
  }
  if (PASSWORD_PROMPT.test(prompt) || KBDINT_PASSWORD_PROMPT.test(prompt)) return { answer: true };
  return {
    answer: false,
    reason: /yes\/no|fingerprint/i.test(prompt)
      ? 'autotunnel never confirms host keys interactively (pin the key or use a known_hosts file)'
      : 'autotunnel only answers password prompts; a second factor or any other question cannot be answered unattended',
  };
}

/** The line the helper writes to stderr (ssh's stderr, which autotunnel reads) when it refuses. */
export function refusalLine(prompt: string, reason: string): string {
  return `autotunnel-askpass: refused to answer ${JSON.stringify(prompt.trim())}: ${reason}`;
}
