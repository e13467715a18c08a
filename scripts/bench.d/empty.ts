// An empty program: compiled with the same flags as ours, its start-up is the runtime's own floor.
