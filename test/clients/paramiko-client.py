# A real Paramiko client (what Ansible's paramiko connection uses) through a stdio ProxyCommand: Paramiko
# runs the command with pipes on its stdin and stdout, so the proxy must relay.
#   paramiko-client.py PROXYCOMMAND USER KEYFILE hello   runs `echo hello-from-paramiko`, prints its output
#   paramiko-client.py PROXYCOMMAND USER KEYFILE echo    sends stdin's bytes through `cat` on the server and
#                                                        prints "SHA256-SENT SHA256-BACK BYTES-BACK"
import hashlib
import sys
import threading

import paramiko

proxy_command, user, key_file, mode = sys.argv[1:5]
client = paramiko.SSHClient()
client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
client.connect(
    "box", username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key_file),
    sock=paramiko.ProxyCommand(proxy_command), look_for_keys=False, allow_agent=False, timeout=20,
    # Paramiko keeps reading (spinning) a ProxyCommand that has exited until this runs out: 15 s by default.
    banner_timeout=3,
)
if mode == "hello":
    _, out, _ = client.exec_command("echo hello-from-paramiko")
    sys.stdout.write(out.read().decode())
    status = out.channel.recv_exit_status()
else:
    data = sys.stdin.buffer.read()
    chan = client.get_transport().open_session()
    chan.exec_command("cat")

    # Send from a thread while this one reads: `cat` stops reading once its output is not taken.
    def send():
        chan.sendall(data)
        chan.shutdown_write()

    sender = threading.Thread(target=send)
    sender.start()
    back = bytearray()
    while True:
        chunk = chan.recv(1 << 16)
        if not chunk:
            break
        back += chunk
    sender.join()
    status = chan.recv_exit_status()
    sys.stdout.write(f"{hashlib.sha256(data).hexdigest()} {hashlib.sha256(back).hexdigest()} {len(back)}\n")
client.close()
sys.exit(status)
