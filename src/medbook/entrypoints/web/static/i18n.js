// The client's words in English and Simplified Chinese. The language comes from the browser's
// preferences until the person picks one with the switch (kept in localStorage: a preference,
// nothing private).

const WORDS = {
  en: {
    app: "medbook",
    skip: "Skip to content",
    nav: "Main",
    hospitals: "Hospitals",
    myAppointments: "My appointments",
    me: "My account",
    login: "Log in",
    logout: "Log out",
    register: "Register",
    language: "中文",
    languageLabel: "切换到中文",
    loading: "Loading…",
    retry: "Try again",
    phone: "Mobile number",
    password: "Password",
    name: "Name",
    role: "I am a",
    patient: "patient",
    doctor: "doctor",
    admin: "hospital admin",
    noAccount: "No account yet?",
    haveAccount: "Already registered?",
    registered: "Registered. You can log in now.",
    loginTitle: "Log in to medbook",
    registerTitle: "Create a patient account",
    passwordHint: "At least 8 characters.",
    chooseHospital: "Choose a hospital",
    departments: "Departments",
    doctors: "Doctors",
    noDoctors: "No doctors in this department take bookings yet.",
    noDepartments: "This hospital has no departments yet.",
    rank: "Rank",
    specialty: "Specialty",
    sessions: "Sessions you can book",
    noSessions: "No sessions open for booking in the next two weeks.",
    morning: "Morning",
    afternoon: "Afternoon",
    placesLeft: "{remaining} of {quota} places left",
    full: "Full",
    book: "Book",
    bookSession: "Book {period}, {date}",
    loginToBook: "Log in as a patient to book",
    booked: "Booked: number {number}, {period} of {date} with {doctor}.",
    seeAppointments: "See my appointments",
    noAppointments: "You have no appointments yet.",
    status_booked: "Booked",
    status_cancelled: "Cancelled",
    status_attended: "Attended",
    status_no_show: "Missed",
    number: "Number {number}",
    cancel: "Cancel appointment",
    confirmCancel: "Yes, cancel it",
    keep: "Keep it",
    cancelled: "The appointment is cancelled.",
    identity: "Identity verification",
    idName: "Name on the identity card",
    idNumber: "Identity card number",
    verify: "Verify",
    verified: "Verified: born {birth_date}.",
    notVerified: "Not verified yet.",
    back: "Back",
    notFound: "There is nothing at this address.",
    errorTitle: "That did not work",
    offline: "The server cannot be reached. Check the connection and try again.",
    field_body: "request",
  },
  zh: {
    app: "medbook 医约",
    skip: "跳到正文",
    nav: "主导航",
    hospitals: "医院",
    myAppointments: "我的预约",
    me: "我的账户",
    login: "登录",
    logout: "退出登录",
    register: "注册",
    language: "English",
    languageLabel: "Switch to English",
    loading: "加载中…",
    retry: "重试",
    phone: "手机号",
    password: "密码",
    name: "姓名",
    role: "身份",
    patient: "患者",
    doctor: "医生",
    admin: "医院管理员",
    noAccount: "还没有账户？",
    haveAccount: "已经注册？",
    registered: "注册成功，现在可以登录。",
    loginTitle: "登录 medbook",
    registerTitle: "注册患者账户",
    passwordHint: "至少 8 个字符。",
    chooseHospital: "选择医院",
    departments: "科室",
    doctors: "医生",
    noDoctors: "该科室暂无可预约的医生。",
    noDepartments: "该医院暂无科室。",
    rank: "职称",
    specialty: "擅长",
    sessions: "可预约的时段",
    noSessions: "未来两周没有可预约的时段。",
    morning: "上午",
    afternoon: "下午",
    placesLeft: "剩余 {remaining}/{quota} 个号",
    full: "已约满",
    book: "预约",
    bookSession: "预约 {date} {period}",
    loginToBook: "以患者身份登录后预约",
    booked: "预约成功：{date} {period}，{doctor}，{number} 号。",
    seeAppointments: "查看我的预约",
    noAppointments: "您还没有预约。",
    status_booked: "已预约",
    status_cancelled: "已取消",
    status_attended: "已就诊",
    status_no_show: "未就诊",
    number: "{number} 号",
    cancel: "取消预约",
    confirmCancel: "确认取消",
    keep: "保留",
    cancelled: "预约已取消。",
    identity: "实名认证",
    idName: "身份证上的姓名",
    idNumber: "身份证号",
    verify: "认证",
    verified: "已认证：出生日期 {birth_date}。",
    notVerified: "尚未认证。",
    back: "返回",
    notFound: "此地址没有内容。",
    errorTitle: "操作未成功",
    offline: "无法连接服务器，请检查网络后重试。",
    field_body: "请求",
  },
};

const KEY = "medbook.language";

function fromBrowser() {
  const saved = localStorage.getItem(KEY);
  if (saved === "en" || saved === "zh") return saved;
  const wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of wanted) {
    const lower = String(tag || "").toLowerCase();
    if (lower.startsWith("zh")) return "zh";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

let current = fromBrowser();
document.documentElement.lang = current === "zh" ? "zh-CN" : "en";

export function language() {
  return current;
}

export function setLanguage(next) {
  current = next === "zh" ? "zh" : "en";
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

// The phrase for key, with {name} replaced by params.name (as text: the caller renders it as text).
export function t(key, params = {}) {
  const phrase = WORDS[current][key] ?? WORDS.en[key] ?? key;
  return phrase.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

// A date (YYYY-MM-DD, a calendar day with no time zone) the way the reader writes dates.
export function formatDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const day = new Date(y, m - 1, d);
  return new Intl.DateTimeFormat(current === "zh" ? "zh-CN" : "en-GB", {
    weekday: "short",
    month: "short",
    day: "numeric",
  }).format(day);
}
