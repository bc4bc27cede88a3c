#!/bin/sh
# Serve the demo (`make demo`): Lanterne's SMTP receiver and the web server,
# side by side; stopping one (Ctrl-C, SIGTERM, or the web server exiting)
# stops both. Prints, before serving, a command that sends a mail to the
# receiver, to watch it arrive in the triage inbox.
#
# Usage: tools/demo-serve.sh [PATH/TO/lanterne]
# Environment: the demo's LANTERNE_MODE and LANTERNE_DATA_DIR (see the
# Makefile's DEMO_ENV), DEMO_HTTP_PORT (8000), DEMO_SMTP_PORT (2525).
set -u

lanterne=${1:-.venv/bin/lanterne}
python=$(dirname "$lanterne")/python
http_port=${DEMO_HTTP_PORT:-8000}
smtp_port=${DEMO_SMTP_PORT:-2525}
site=${LANTERNE_SITE_URL:-http://127.0.0.1:$http_port}
# The demo agency's shared mailbox (DEMO_SHARED_MAILBOX in lanterne/core/demo.py):
# the receiver accepts every address of the agency's mail domain.
mailbox=gestion@cabinet-lumiere.fr
manager=claire.fontaine@cabinet-lumiere.fr

receiver=
server=
stop() {
    trap - EXIT INT TERM
    for pid in $server $receiver; do
        kill -TERM "$pid" 2>/dev/null
    done
    wait
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port another program listens on would make the receiver fail, and the
# printed command talk to that program instead.
if ! "$python" -c "
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
" "$smtp_port" 2>/dev/null; then
    echo "Le port $smtp_port est déjà pris : relancez avec « make demo DEMO_SMTP_PORT=2526 »." >&2
    exit 1
fi

"$lanterne" receive-mail --port "$smtp_port" &
receiver=$!

# Wait until the receiver listens (Django starts in a second or two).
tries=0
until "$python" -c "
import socket, sys
socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()
" "$smtp_port" 2>/dev/null; do
    tries=$((tries + 1))
    if ! kill -0 "$receiver" 2>/dev/null || [ "$tries" -ge 60 ]; then
        echo "Le récepteur SMTP n'a pas démarré sur le port $smtp_port." >&2
        exit 1
    fi
    sleep 0.5
done

cat <<EOF

Le récepteur SMTP de Lanterne écoute sur 127.0.0.1:$smtp_port. Envoyez-lui un courriel,
puis ouvrez la boîte de tri ($site/courriels/tri/, compte $manager) :

  swaks --server 127.0.0.1:$smtp_port --to $mailbox --from jean.martin@plomberie-martin.example --header "Subject: Fuite au 3e étage" --body "Bonjour, une fuite d’eau coule dans l’escalier B des Tilleuls, au 3e étage. Jean Martin, Plomberie Martin"

ou, sans swaks :

  python3 -c 'import smtplib; from email.message import EmailMessage; m = EmailMessage(); m["From"] = "jean.martin@plomberie-martin.example"; m["To"] = "$mailbox"; m["Subject"] = "Fuite au 3e étage"; m.set_content("Bonjour, une fuite d’eau coule dans l’escalier B des Tilleuls, au 3e étage. Jean Martin, Plomberie Martin"); smtplib.SMTP("127.0.0.1", $smtp_port).send_message(m)'

EOF

"$lanterne" runserver --noreload "127.0.0.1:$http_port" &
server=$!
wait "$server"
