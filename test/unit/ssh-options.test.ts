/**
 * checkExtraArgs: SSH_OPTIONS words checked against ssh(1)'s option grammar and against what
 * supervision needs.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkExtraArgs, type ExtraArgsCheck } from '../../src/config/ssh-options.js';
import { ENV_SETTING_NAMES } from '../../src/config/env.js';

function clean(args: string[]): ExtraArgsCheck {
  const r = checkExtraArgs(args, ENV_SETTING_NAMES);
  assert.deepEqual(r.errors, [], `unexpected errors for ${JSON.stringify(args)}`);
  assert.deepEqual(r.warnings, [], `unexpected warnings for ${JSON.stringify(args)}`);
  return r;
}

function errorsOf(args: string[]): string[] {
  return checkExtraArgs(args, ENV_SETTING_NAMES).errors;
}

describe('accepted options', () => {
  test('no arguments', () => {
    const r = clean([]);
    assert.equal(r.addsRemoteForward, false);
    assert.deepEqual([...r.keywords], []);
  });

  test('plain flags and flag clusters', () => {
    for (const args of [['-v'], ['-vvv'], ['-vT'], ['-C', '-4'], ['-6', '-A', '-x', '-X', '-Y', '-g', '-k', '-K', '-n', '-N', '-t', '-T', '-a', '-2']]) {
      clean(args);
    }
  });

  test('options with their value in the next word', () => {
    for (const args of [
      ['-i', '/keys/id'], ['-J', 'bastion'], ['-F', '/cfg'], ['-L', '8080:localhost:80'], ['-D', '1080'], ['-b', '10.0.0.1'],
      ['-c', 'aes128-ctr'], ['-m', 'hmac-sha2-256'], ['-e', 'none'], ['-B', 'eth0'], ['-I', '/lib/pkcs11.so'], ['-P', 'tag'], ['-w', '0:1'],
    ]) {
      clean(args);
    }
  });

  test('options with their value attached', () => {
    clean(['-i/keys/id']);
    clean(['-L8080:localhost:80']);
    clean(['-Jbastion']);
  });

  test('a cluster of flags ending in an option takes the next word as its value', () => {
    clean(['-vi', '/keys/id']);
    clean(['-vCo', 'Compression=yes']);
    clean(['-vTi/keys/id']);
  });

  test('the value of an option is not itself checked as an option', () => {
    // "-i -f" is the key file "-f", not a refused -f (ssh reads it the same way)
    clean(['-i', '-f']);
    clean(['-J', 'user@host']);
  });
});

describe('-o settings', () => {
  test('-oKey=value, -o Key=value, -o "Key value", -o "Key = value"', () => {
    assert.deepEqual([...clean(['-oStreamLocalBindUnlink=yes']).keywords], ['streamlocalbindunlink']);
    assert.deepEqual([...clean(['-o', 'StreamLocalBindUnlink=yes']).keywords], ['streamlocalbindunlink']);
    assert.deepEqual([...clean(['-o', 'StreamLocalBindUnlink yes']).keywords], ['streamlocalbindunlink']);
    assert.deepEqual([...clean(['-o', 'StreamLocalBindUnlink = yes']).keywords], ['streamlocalbindunlink']);
    assert.deepEqual([...clean(['-o', '  Compression\tyes']).keywords], ['compression']);
    assert.deepEqual([...clean(['-o', 'ProxyCommand=nc -x proxy:1080 %h %p']).keywords], ['proxycommand']);
  });

  test('keywords are collected lower-cased', () => {
    const r = clean(['-o', 'ServerAliveInterval=5', '-oConnectTimeout=3', '-vo', 'TCPKeepAlive no']);
    assert.deepEqual([...r.keywords].sort(), ['connecttimeout', 'serveraliveinterval', 'tcpkeepalive']);
  });

  test('keywords containing digits are accepted', () => {
    assert.deepEqual([...clean(['-o', 'ForwardX11=no']).keywords], ['forwardx11']);
    assert.deepEqual([...clean(['-o', 'ForwardX11Trusted no']).keywords], ['forwardx11trusted']);
    assert.deepEqual([...clean(['-oPKCS11Provider=/lib/p11.so']).keywords], ['pkcs11provider']);
  });

  test('an empty value after "=" is accepted (ssh decides)', () => {
    clean(['-o', 'SendEnv=']);
  });

  test('a setting that is not Keyword=value is an error', () => {
    assert.deepEqual(errorsOf(['-o', 'NoValue']), ['-o "NoValue" is not of the form Keyword=value']);
    assert.deepEqual(errorsOf(['-o', '=yes']), ['-o "=yes" is not of the form Keyword=value']);
    assert.deepEqual(errorsOf(['-o', '-v']), ['-o "-v" is not of the form Keyword=value']);
    assert.deepEqual(errorsOf(['-o', '1Key=x']), ['-o "1Key=x" is not of the form Keyword=value']);
  });

  test('names of Object.prototype members are ordinary keywords (no lookup through the prototype)', () => {
    for (const k of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const r = clean(['-o', `${k}=1`]);
      assert.deepEqual([...r.keywords], [k.toLowerCase()]);
    }
  });
});

describe('values missing at the end', () => {
  for (const args of [['-o'], ['-i'], ['-v', '-J'], ['-vL'], ['-R'], ['-F']]) {
    test(JSON.stringify(args), () => {
      const letter = args[args.length - 1]!.slice(-1);
      assert.deepEqual(errorsOf(args), [`option -${letter} needs a value after it`]);
    });
  }
});

describe('words that are not options', () => {
  for (const word of ['user@host', 'ls', '--', '-', '']) {
    test(JSON.stringify(word), () => {
      assert.deepEqual(errorsOf(['-v', word]), [
        `"${word}" is not an ssh option; ssh would take it as the destination or a remote command (options start with "-", e.g. -o StreamLocalBindUnlink=yes)`,
      ]);
    });
  }

  test('each bare word is reported', () => {
    assert.equal(errorsOf(['host', 'uptime']).length, 2);
  });
});

describe('unknown letters', () => {
  for (const letter of ['Z', 'd', 'h', 'j', 'r', 'u', 'z', '3', 'U', 'H']) {
    test(`-${letter}`, () => {
      assert.deepEqual(errorsOf([`-${letter}`]), [`-${letter} is not an ssh option (see "man ssh")`]);
    });
  }

  test('an unknown letter in a cluster stops checking the rest of that word', () => {
    assert.deepEqual(errorsOf(['-vZf']), ['-Z is not an ssh option (see "man ssh")']);
  });

  test('a long option is read letter by letter, like ssh does', () => {
    assert.deepEqual(errorsOf(['--verbose']), ['-- is not an ssh option (see "man ssh")']);
  });
});

describe('refused options', () => {
  const flags: Array<[string, RegExp]> = [
    ['f', /it sends ssh to the background/],
    ['G', /it only prints the configuration and exits/],
    ['V', /it only prints the version and exits/],
    ['M', /multiplexing master/],
    ['q', /it silences the messages/],
    ['s', /subsystem/],
  ];
  for (const [letter, why] of flags) {
    test(`-${letter} (flag)`, () => {
      const errors = errorsOf([`-${letter}`]);
      assert.equal(errors.length, 1);
      assert.ok(errors[0]!.startsWith(`option -${letter} is not allowed: `), errors[0]);
      assert.match(errors[0]!, why);
      // also inside a cluster
      assert.deepEqual(errorsOf([`-N${letter}`]), errors);
      assert.deepEqual(errorsOf([`-${letter}N`]), errors);
    });
  }

  const withValue: Array<[string, string, RegExp]> = [
    ['E', '/tmp/ssh.log', /moves ssh's messages to a file/],
    ['O', 'exit', /multiplexing master/],
    ['Q', 'cipher', /only queries supported algorithms/],
    ['S', '/tmp/ctl', /connection sharing/],
    ['W', 'host:22', /forwards standard input\/output/],
    ['p', '2222', /^option -p is not allowed: set the port with SSH_REMOTE_PORT instead$/],
    ['l', 'bob', /^option -l is not allowed: set the user with SSH_REMOTE_USER instead$/],
  ];
  for (const [letter, value, why] of withValue) {
    test(`-${letter} VALUE (option with a value)`, () => {
      const errors = errorsOf([`-${letter}`, value]);
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.ok(errors[0]!.startsWith(`option -${letter} is not allowed: `));
      assert.match(errors[0]!, why);
      assert.deepEqual(errorsOf([`-${letter}${value}`]), errors, 'value attached');
      // the value is consumed, so a following option is checked normally
      assert.deepEqual(errorsOf([`-${letter}`, value, '-v']), errors);
    });

    test(`-${letter} at the end: refused and missing its value`, () => {
      const errors = errorsOf([`-${letter}`]);
      assert.equal(errors.length, 2);
      assert.ok(errors[0]!.startsWith(`option -${letter} is not allowed: `));
      assert.equal(errors[1], `option -${letter} needs a value after it`);
    });
  }

  test('refusals are errors, not warnings', () => {
    const r = checkExtraArgs(['-f'], ENV_SETTING_NAMES);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.errors.length, 1);
  });
});

describe('-o keywords', () => {
  const refused = ['ForkAfterAuthentication', 'RemoteCommand', 'StdinNull', 'PermitLocalCommand', 'LocalCommand'];
  for (const keyword of refused) {
    test(`${keyword} is refused (error)`, () => {
      for (const args of [['-o', `${keyword}=yes`], [`-o${keyword.toLowerCase()} yes`]]) {
        const r = checkExtraArgs(args, ENV_SETTING_NAMES);
        assert.equal(r.errors.length, 1, JSON.stringify(args));
        assert.deepEqual(r.warnings, []);
        const shown = args.length === 2 ? keyword : keyword.toLowerCase();
        assert.ok(r.errors[0]!.startsWith(`-o ${shown} is not allowed: `), r.errors[0]);
      }
    });
  }

  const controlled: Array<[string, RegExp]> = [
    ['BatchMode', /sets BatchMode=yes/],
    ['ExitOnForwardFailure', /must exit so it can be retried/],
    ['StrictHostKeyChecking', /host keys are always verified/],
    ['UserKnownHostsFile', /set SSH_KNOWN_HOSTS_FILE instead/],
    ['ControlMaster', /one connection per tunnel/],
    ['ControlPath', /one connection per tunnel/],
    ['LogLevel', /reads ssh's verbose messages/],
    ['SessionType', /runs no remote command/],
  ];
  for (const [keyword, why] of controlled) {
    test(`${keyword} is ignored with a warning (not an error)`, () => {
      const r = checkExtraArgs(['-o', `${keyword}=no`], ENV_SETTING_NAMES);
      assert.deepEqual(r.errors, []);
      assert.equal(r.warnings.length, 1);
      assert.ok(r.warnings[0]!.startsWith(`-o ${keyword}=no is ignored: `), r.warnings[0]);
      assert.match(r.warnings[0]!, why);
      assert.ok(r.keywords.has(keyword.toLowerCase()));
    });
  }

  test('the warning quotes the value as given, also for the space form', () => {
    assert.deepEqual(checkExtraArgs(['-o', 'batchmode no'], ENV_SETTING_NAMES).warnings, ['-o batchmode=no is ignored: autotunnel runs ssh without a terminal and sets BatchMode=yes']);
  });
});

describe('addsRemoteForward', () => {
  const yes = [
    ['-R', '9000:localhost:3000'],
    ['-R9000:localhost:3000'],
    ['-vR', '9000:localhost:3000'],
    ['-o', 'RemoteForward 9000 localhost:3000'],
    ['-oRemoteForward=9000 localhost:3000'],
    ['-o', 'remoteforward=9000 localhost:3000'],
    ['-L', '1:h:2', '-R', '0:h:3'],
  ];
  for (const args of yes) {
    test(`true for ${JSON.stringify(args)}`, () => {
      const r = clean(args);
      assert.equal(r.addsRemoteForward, true);
    });
  }

  const no = [['-L', '8080:localhost:80'], ['-D', '1080'], ['-o', 'LocalForward 8080 localhost:80'], ['-i', '-R'], ['-v']];
  for (const args of no) {
    test(`false for ${JSON.stringify(args)}`, () => {
      assert.equal(clean(args).addsRemoteForward, false);
    });
  }
});

describe('several problems', () => {
  test('are all reported, in order, with warnings kept apart', () => {
    const r = checkExtraArgs(['-f', '-o', 'BatchMode=no', 'host', '-Z', '-o', 'RemoteCommand=x', '-p'], ENV_SETTING_NAMES);
    assert.deepEqual(r.errors, [
      'option -f is not allowed: it sends ssh to the background, where autotunnel can no longer supervise it',
      '"host" is not an ssh option; ssh would take it as the destination or a remote command (options start with "-", e.g. -o StreamLocalBindUnlink=yes)',
      '-Z is not an ssh option (see "man ssh")',
      '-o RemoteCommand is not allowed: a tunnel runs no remote command (-N)',
      'option -p is not allowed: set the port with SSH_REMOTE_PORT instead',
      'option -p needs a value after it',
    ]);
    assert.deepEqual(r.warnings, ['-o BatchMode=no is ignored: autotunnel runs ssh without a terminal and sets BatchMode=yes']);
  });
});
