// ssh-access.target, the milestone systemd 256+ ships (units/ssh-access.target) and the remotely reachable
// ssh sockets are ordered before. One text for both of its users on systems that lack it: the installer puts
// systemd 262's file in place, and the generator's legacy form (systemd before 256) writes its [Unit] section
// as a generated unit.

/** The [Unit] section of systemd 262's ssh-access.target. */
export const SSH_ACCESS_TARGET_UNIT = "[Unit]\nDescription=SSH Access Available\nDocumentation=man:systemd.special(7)\nStopWhenUnneeded=yes\n";

/** systemd 262's ssh-access.target file, verbatim: its licence header, then the [Unit] section. */
export const SSH_ACCESS_TARGET_FILE = `#  SPDX-License-Identifier: LGPL-2.1-or-later
#
#  This file is part of systemd.
#
#  systemd is free software; you can redistribute it and/or modify it
#  under the terms of the GNU Lesser General Public License as published by
#  the Free Software Foundation; either version 2.1 of the License, or
#  (at your option) any later version.

${SSH_ACCESS_TARGET_UNIT}`;
