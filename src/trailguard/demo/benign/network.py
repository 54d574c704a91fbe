"""Benign traffic: the shop's visitors, search engines and an uptime monitor (nginx access log
and flows), internet scanners (404s, php-fpm's "Primary script unknown", rejected port probes),
and the VPC's background flows (DNS, the CloudMonitor agent, the database pool).

While web-01's group is open to the internet (Wednesday night to Thursday morning) the
scanners' SSH and RDP probes get through; those records belong to the attack step that opened
the group (S13), as its effect.
"""

from __future__ import annotations

from random import Random

from trailguard.demo.clock import DAY, HOUR, MINUTE, SECOND, hex_lower
from trailguard.demo.flows import Flow
from trailguard.demo.plan import Plan
from trailguard.demo.scene import Scene
from trailguard.demo.world import (
    CMS_IP,
    DNS_IPS,
    RESERVED_IPS,
    SCANNER_IPS,
    SHOP_DOMAIN,
    UPTIME_IP,
)

WEB_IP = "172.16.2.20"
#: Visits per hour of the day (UTC); the shop's customers are in UTC+8.
HOURLY = (4, 6, 7, 7, 7, 7, 7, 7, 8, 8, 8, 9, 9, 8, 6, 4, 2, 1, 1, 1, 1, 1, 2, 3)
VISITS_PER_DAY = 200
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.6668.100 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
UPTIME_AGENT = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
SCANNER_AGENTS = (
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Mozilla/5.0 zgrab/0.x", "python-requests/2.31.0", "Go-http-client/1.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
)
#: (path, status, size, nginx error) the scanners try; "script" = php-fpm had no such file.
PROBES = (
    ("/.env", 403, 162, "forbidden"), ("/.git/config", 403, 162, "forbidden"),
    ("/wp-login.php", 404, 16, "script"), ("/wp-admin/setup-config.php", 404, 16, "script"),
    ("/xmlrpc.php", 404, 16, "script"), ("/phpinfo.php", 404, 16, "script"),
    ("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404, 16, "script"),
    ("/admin/config.php", 404, 16, "script"), ("/phpmyadmin/", 404, 1_245, ""),
    ("/server-status", 404, 1_245, ""), ("/actuator/env", 404, 1_245, ""),
    ("/.aws/credentials", 403, 162, "forbidden"), ("/cgi-bin/luci/;stok=/locale", 404, 1_245, ""),
    ("/boaform/admin/formLogin", 404, 1_245, ""), ("/?XDEBUG_SESSION_START=phpstorm", 200,
                                                    18_211, ""),
)
PORT_PROBES = (22, 23, 445, 3389, 5900, 6379, 8080, 2375)
SSH_GUESSES = ("admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "deploy")
ASSETS = ("/static/css/app.3f9c2e1b.css", "/static/js/app.8d41f0a2.js",
          "/static/js/vendor.1b7e55c9.js", "/static/img/logo.svg", "/favicon.ico")
CATEGORIES = ("shoes", "bags", "outdoor", "kitchen", "toys", "garden", "sale")


def client_port(rng: Random) -> int:
    """An ephemeral source port (Linux 32768-60999, Windows and Apple 49152-65535)."""
    return rng.randint(49152, 65535) if rng.random() < 0.7 else rng.randint(32768, 60999)


def _client_pool(rng: Random) -> list[str]:
    pool = [f"198.51.100.{n}" for n in range(2, 255)] + [f"203.0.113.{n}" for n in range(2, 255)]
    return [ip for ip in pool if ip not in RESERVED_IPS]


class Traffic:
    def __init__(self, scene: Scene, plan: Plan, day: int, rng: Random) -> None:
        self.scene = scene
        self.plan = plan
        self.rng = rng
        self.day_start = scene.world.start + day * DAY
        self.web = scene.web
        self.host = scene.hosts["web-01"]
        self.clients = _client_pool(rng)

    def visits(self) -> None:
        rng = self.rng
        total = sum(HOURLY)
        for hour, weight in enumerate(HOURLY):
            for _ in range(round(VISITS_PER_DAY * weight / total * rng.uniform(0.8, 1.2))):
                start = self.day_start + hour * HOUR + int(rng.uniform(0, HOUR))
                self.visit(start, rng.choice(self.clients), rng.choice(BROWSERS))
        for _ in range(rng.randint(40, 70)):
            start = self.day_start + int(rng.uniform(0, DAY))
            self.visit(start, rng.choice(self.clients), rng.choice(BOTS), bot=True)

    def visit(self, start: int, ip: str, agent: str, bot: bool = False) -> None:
        rng = self.rng
        t = start
        sent = 0
        referer = "https://www.google.com/" if rng.random() < 0.4 else "-"
        pages = rng.randint(1, 3) if bot else rng.choices((1, 2, 3, 4, 6, 9),
                                                          (30, 25, 18, 12, 9, 6))[0]
        returning = rng.random() < 0.45
        if bot and rng.random() < 0.5:
            self.web.hit(t, ip, "GET", "/robots.txt", 200, 67, agent)
            t += int(rng.uniform(1, 5) * SECOND)
        for page_number in range(pages):
            path = self._page(rng)
            status = 404 if path.startswith("/products/") and rng.random() < 0.03 else 200
            size = rng.randint(9_000, 48_000) if status == 200 else 3_411
            self.web.hit(t, ip, "GET", path, status, size, agent, referer)
            sent += size
            page_url = f"https://{SHOP_DOMAIN}{path}"
            if not bot:
                for asset in ASSETS if page_number == 0 else ASSETS[:2]:
                    t += int(rng.uniform(0.02, 0.3) * SECOND)
                    cached = returning or page_number > 0
                    self.web.hit(t, ip, "GET", asset, 304 if cached else 200,
                                 0 if cached else rng.randint(2_000, 180_000), agent, page_url)
                for _ in range(rng.randint(1, 5)):
                    t += int(rng.uniform(0.05, 0.5) * SECOND)
                    image = f"/media/products/{rng.randint(1000, 9999)}/{hex_lower(rng, 12)}.webp"
                    size = rng.randint(12_000, 160_000)
                    self.web.hit(t, ip, "GET", image, 200, size, agent, page_url)
                    sent += size
                if rng.random() < 0.5:
                    t += int(rng.uniform(0.2, 2) * SECOND)
                    self.web.hit(t, ip, "GET", "/api/v1/cart", 200, rng.randint(80, 2_400), agent,
                                 page_url)
                if rng.random() < 0.08:
                    t += int(rng.uniform(5, 40) * SECOND)
                    status = 200 if rng.random() < 0.85 else 401
                    self.web.hit(t, ip, "POST", "/api/v1/login", status, 96, agent, page_url)
            referer = page_url
            t += int(rng.uniform(4, 90) * SECOND)
        self.scene.flow(Flow(start - 200_000, max(SECOND, t - start), ip, client_port(rng),
                             WEB_IP, 443, rng.randint(2_000, 9_000) * pages, sent + 6_000))

    @staticmethod
    def _page(rng: Random) -> str:
        choice = rng.random()
        if choice < 0.25:
            return "/"
        if choice < 0.65:
            return f"/products/{rng.randint(1000, 9999)}"
        if choice < 0.85:
            return f"/category/{rng.choice(CATEGORIES)}"
        if choice < 0.95:
            return f"/search?q={rng.choice(('sneakers', 'tote', 'tent', 'pan', 'lego'))}"
        return rng.choice(("/cart", "/checkout", "/account/orders", "/help/shipping"))

    def uptime(self) -> None:
        for index in range(DAY // (5 * MINUTE)):
            t = self.day_start + index * 5 * MINUTE + int(self.rng.uniform(0, 3) * SECOND)
            self.web.hit(t, UPTIME_IP, "GET", "/healthz", 200, 2, UPTIME_AGENT)
            self.scene.flow(Flow(t - 80_000, 300_000, UPTIME_IP, client_port(self.rng),
                                 WEB_IP, 443, 880, 4_150))

    def scanners(self) -> None:
        rng = self.rng
        for _ in range(rng.randint(2, 4)):
            ip = rng.choice(SCANNER_IPS)
            agent = rng.choice(SCANNER_AGENTS)
            t = self.day_start + int(rng.uniform(0, DAY))
            for path, status, size, error in rng.sample(PROBES, rng.randint(6, 12)):
                self.web.hit(t, ip, "GET", path, status, size, agent)
                if error == "forbidden":
                    self.web.error_line(t, "error", "access forbidden by rule", client=ip,
                                        request=f"GET {path} HTTP/1.1")
                elif error == "script":
                    self.web.error_line(
                        t, "error", 'FastCGI sent in stderr: "Primary script unknown" while '
                        "reading response header from upstream", client=ip,
                        request=f"GET {path} HTTP/1.1",
                        extra=', upstream: "fastcgi://unix:/run/php/php8.3-fpm.sock:"')
                t += int(rng.uniform(0.2, 4) * SECOND)
            self.scene.flow(Flow(t - 30 * SECOND, 30 * SECOND, ip, client_port(rng),
                                 WEB_IP, 443, 6_000, 30_000))
            for port in PORT_PROBES:
                self.probe(t + int(rng.uniform(0, 60) * SECOND), ip, port)
        for _ in range(rng.randint(60, 110)):
            t = self.day_start + int(rng.uniform(0, DAY))
            self.probe(t, rng.choice(self.clients), rng.choice(PORT_PROBES))

    def probe(self, t: int, ip: str, port: int) -> None:
        """A SYN to web-01: dropped by its group, unless the group is open to the world."""
        rng = self.rng
        source_port = client_port(rng)
        opened = self.plan.sg_opened <= t < self.plan.sg_revoked and port in (22, 3389)
        if not opened:
            self.scene.flow(Flow(t, 2 * SECOND, ip, source_port, WEB_IP, port, 60, 0,
                                 action="REJECT"))
            return
        with self.scene.tagged("S13"):
            if port == 3389:  # nothing listens: the SYN is answered with a reset
                self.scene.flow(Flow(t, 100_000, ip, source_port, WEB_IP, port, 60, 40))
                return
            self.scene.flow(Flow(t, 3 * SECOND, ip, source_port, WEB_IP, 22, 2_900, 3_400))
            sshd = self.host.pid(t)
            user = rng.choice((*SSH_GUESSES, "root"))
            if user == "root":
                self.host.auth_line(t + 2 * SECOND, "sshd", sshd, "Connection closed by "
                                    f"authenticating user root {ip} port {source_port} "
                                    "[preauth]")
            else:
                self.host.auth_line(t + SECOND, "sshd", sshd,
                                    f"Invalid user {user} from {ip} port {source_port}")
                self.host.auth_line(t + 2 * SECOND, "sshd", sshd, "Connection closed by "
                                    f"invalid user {user} {ip} port {source_port} [preauth]")


def background(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    """DNS lookups, the CloudMonitor agent's connection, the shop's database pool."""
    day_start = scene.world.start + day * DAY
    for host in scene.hosts.values():
        ip = host.host.private_ip
        until = plan.quarantine if host.host.name == "build-01" else day_start + DAY
        if until <= day_start:
            continue
        start = day_start + int(rng.uniform(0, 20) * SECOND)
        scene.flow(Flow(start, min(until, day_start + DAY) - start, ip, host.port(), CMS_IP, 443,
                        rng.randint(900_000, 1_300_000), rng.randint(300_000, 500_000)))
        for window in range(DAY // (10 * MINUTE)):
            for _ in range(rng.randint(1, 2)):
                t = day_start + window * 10 * MINUTE + int(rng.uniform(0, 10 * MINUTE))
                if t < until:
                    scene.flow(Flow(t, 30_000, ip, host.port(), rng.choice(DNS_IPS), 53,
                                    rng.randint(60, 140), rng.randint(90, 320), protocol="udp"))
    web, db = scene.hosts["web-01"], scene.hosts["db-01"]
    for _ in range(2):
        start = day_start + int(rng.uniform(0, 30) * SECOND)
        scene.flow(Flow(start, DAY - 60 * SECOND, web.host.private_ip, web.port(),
                        db.host.private_ip, 3306, rng.randint(40_000_000, 90_000_000),
                        rng.randint(200_000_000, 600_000_000)))


def network_day(scene: Scene, plan: Plan, day: int, rng: Random) -> None:
    traffic = Traffic(scene, plan, day, rng)
    traffic.visits()
    traffic.uptime()
    traffic.scanners()
    background(scene, plan, day, rng)
