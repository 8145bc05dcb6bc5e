/*
 * A pod's sandbox process, as Kubernetes' pause image has one: it holds
 * the pod's namespaces for the containers that join them, reaps what is
 * orphaned into it, and ends on SIGINT or SIGTERM (stopp). Built static
 * by TestCRI, so that its image needs nothing else and no network.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { _exit(0); }

static void reap(int sig)
{
	while (waitpid(-1, 0, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa = {0};

	sa.sa_handler = stop;
	sigaction(SIGINT, &sa, 0);
	sigaction(SIGTERM, &sa, 0);
	sa.sa_handler = reap;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, 0);
	for (;;)
		pause();
}
