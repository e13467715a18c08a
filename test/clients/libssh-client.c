/* A real libssh client (Debian's libssh 0.10) through a ProxyCommand: libssh gives the command ONE
 * socketpair end on both stdin and stdout, exactly like OpenSSH's ProxyUseFdpass mode, but speaks SSH
 * over it, so the proxy must tell it apart and relay (src/proxy/transport.ts).
 *   libssh-client PROXYCOMMAND USER KEYFILE COMMAND
 * Runs COMMAND on the server with our stdin as its stdin (until EOF) and prints its stdout; exits with its
 * status, or 255 with libssh's error on stderr. */
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>

static int fail(ssh_session s, const char *what) {
    fprintf(stderr, "libssh-client: %s: %s\n", what, ssh_get_error(s));
    return 255;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: libssh-client PROXYCOMMAND USER KEYFILE COMMAND\n");
        return 2;
    }
    ssh_session s = ssh_new();
    int no = 0, timeout = 20;
    ssh_options_set(s, SSH_OPTIONS_HOST, "box");
    ssh_options_set(s, SSH_OPTIONS_USER, argv[2]);
    ssh_options_set(s, SSH_OPTIONS_PROXYCOMMAND, argv[1]);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no);
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    if (ssh_connect(s) != SSH_OK) return fail(s, "connect");
    ssh_key key = NULL;
    if (ssh_pki_import_privkey_file(argv[3], NULL, NULL, NULL, &key) != SSH_OK) return fail(s, "key");
    if (ssh_userauth_publickey(s, NULL, key) != SSH_AUTH_SUCCESS) return fail(s, "auth");
    ssh_channel c = ssh_channel_new(s);
    if (c == NULL || ssh_channel_open_session(c) != SSH_OK) return fail(s, "channel");
    if (ssh_channel_request_exec(c, argv[4]) != SSH_OK) return fail(s, "exec");

    /* Copy stdin to the channel and the channel to stdout at once, never blocking in a write: a write
     * larger than the peer's window waits for a window adjust that only comes once `cat` on the server
     * can write, i.e. once we read, which a blocked writer never does. */
    char in[65536], out[65536];
    size_t pending = 0, off = 0;
    int in_open = 1;
    for (;;) {
        if (in_open && pending == 0) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            if (poll(&p, 1, 0) > 0) {
                ssize_t n = read(0, in, sizeof in);
                if (n <= 0) {
                    ssh_channel_send_eof(c);
                    in_open = 0;
                } else {
                    pending = (size_t)n;
                    off = 0;
                }
            }
        }
        if (pending > 0) {
            uint32_t window = ssh_channel_window_size(c);
            if (window > 0) {
                int n = ssh_channel_write(c, in + off, (uint32_t)(pending < window ? pending : window));
                if (n < 0) return fail(s, "write");
                off += (size_t)n;
                pending -= (size_t)n;
            }
        }
        int n = ssh_channel_read_timeout(c, out, sizeof out, 0, in_open || pending > 0 ? 10 : 1000);
        if (n == SSH_ERROR) return fail(s, "read");
        if (n > 0 && fwrite(out, 1, (size_t)n, stdout) != (size_t)n) return 255;
        if (n == 0 && ssh_channel_is_eof(c)) break;
    }
    fflush(stdout);
    int status = ssh_channel_get_exit_status(c);
    ssh_channel_close(c);
    ssh_channel_free(c);
    ssh_disconnect(s);
    ssh_free(s);
    return status < 0 ? 255 : status;
}
